"""The one exception tree of cdc-facts.

Every error cdc-facts raises on purpose derives from :class:`CdcFactsError`.
Recoverability is a class, not a string match::

    CdcFactsError
    ├── TerminalError                 retrying cannot help
    │   ├── ConfigError               a setting is missing or wrong
    │   ├── MappingError              mapping files are invalid (carries every Problem)
    │   ├── ExpressionError           one SQL expression does not compile (position inside it)
    │   ├── RecordError               one change record cannot become facts -> dead letter
    │   │   ├── ChangeDecodeError     the record is not a Debezium change (not JSON, bad envelope)
    │   │   ├── UnknownTableError     no mapping covers the record's table
    │   │   ├── EvaluationError       an expression failed at run time (division by zero, bad cast)
    │   │   ├── UnknownValueError     a rule depends on an unknown value under on_unknown: error
    │   │   └── ContractViolationError  a fact does not satisfy its fact contract (JSON Schema)
    │   ├── ConnectorSpecError        a connectors/*.yaml spec is invalid
    │   ├── ConnectRequestError       Kafka Connect refused a request (4xx)
    │   ├── ConnectorFailedError      a connector or one of its tasks is FAILED (carries trace)
    │   ├── PreflightError            the database cannot deliver what the rules need
    │   ├── LocalStackError           the local stack cannot start (missing tool, port in use, died)
    │   └── KafkaFatalError           a Kafka client cannot go on (fenced, not authorized)
    └── TransientError                retry with backoff
        ├── ConnectUnavailableError   Kafka Connect unreachable, 5xx, or 409 (rebalance)
        ├── KafkaUnavailableError     the broker cannot be reached
        │   └── TransactionAbortedError  the open Kafka transaction must be aborted and retried
        └── DatabaseUnavailableError  the source database cannot be reached

Context travels as typed attributes (``topic``, ``partition``, ``offset``, ``rule``,
``status``...), never only inside the message. ``hint`` says what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass


class CdcFactsError(Exception):
    """Base of every error cdc-facts raises on purpose."""

    #: Process exit code the command line uses for this class of error.
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class TerminalError(CdcFactsError):
    """Retrying cannot help: fix the input, the rule or the setting."""


class TransientError(CdcFactsError):
    """A dependency is unavailable for now: retry with backoff."""

    exit_code = 3


# --- problems with positions -------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a user's file, with where it is and what to do.

    >>> str(Problem("m.yaml", 3, 9, "unknown column `after.stauts`", suggestion="after.status"))
    'm.yaml:3:9: unknown column `after.stauts` (did you mean `after.status`?)'
    """

    file: str
    line: int
    col: int
    message: str
    fragment: str | None = None
    suggestion: str | None = None
    severity: str = "error"

    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def __str__(self) -> str:
        text = f"{self.location()}: {self.message}"
        if self.suggestion:
            text += f" (did you mean `{self.suggestion}`?)"
        return text


class ConfigError(TerminalError):
    """A setting is missing or invalid. ``problems`` holds every problem found in a config
    file, each at its ``file:line:col``."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        key: str | None = None,
        problems: list[Problem] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.key = key
        self.problems = problems or []


class MappingError(TerminalError):
    """Mapping files are invalid. ``problems`` holds every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        first = str(errors[0]) if errors else "invalid mapping"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first + more, hint="run `cdc-facts validate` to see every problem")
        self.problems = problems


class ExpressionError(TerminalError):
    """An SQL expression does not compile. ``line``/``col`` are 1-based, inside the expression.

    ``others`` holds the further problems found in the same expression (an unknown name in
    one operand, an unknown function in another), in the order they are written.
    """

    def __init__(
        self,
        message: str,
        *,
        expression: str,
        line: int = 1,
        col: int = 1,
        fragment: str | None = None,
        suggestion: str | None = None,
        others: tuple[ExpressionError, ...] = (),
    ) -> None:
        super().__init__(message)
        self.expression = expression
        self.line = line
        self.col = col
        self.fragment = fragment
        self.suggestion = suggestion
        self.others = others

    @property
    def all(self) -> tuple[ExpressionError, ...]:
        """This problem and the others, in the order they are written."""
        return (self, *self.others)


class RecordError(TerminalError):
    """One change record cannot be turned into facts. It goes to the dead-letter topic."""

    #: Short machine-readable reason, used in dead-letter headers and metrics labels.
    reason: str = "record-error"

    def __init__(self, message: str, *, rule: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.rule = rule


class ChangeDecodeError(RecordError):
    reason = "undecodable"


class UnknownTableError(RecordError):
    reason = "unknown-table"


class EvaluationError(RecordError):
    reason = "evaluation-error"


class UnknownValueError(RecordError):
    reason = "unknown-value"


class ContractViolationError(RecordError):
    reason = "contract-violation"


class FactTooLargeError(RecordError):
    """A fact is larger than the producer may send (``message.max.bytes``)."""

    reason = "fact-too-large"


class ConnectorSpecError(TerminalError):
    """A connector spec (connectors/*.yaml) is invalid."""

    def __init__(self, message: str, *, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class ConnectRequestError(TerminalError):
    """Kafka Connect answered with a client error (4xx other than 409)."""

    def __init__(self, message: str, *, status: int, connector: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.connector = connector


class PreflightError(TerminalError):
    """The database cannot deliver what the connector spec and the rules need."""


class LocalStackError(TerminalError):
    """The local stack cannot be provisioned or started."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        service: str | None = None,
        log_tail: list[str] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.service = service
        self.log_tail = log_tail or []


class ConnectUnavailableError(TransientError):
    """Kafka Connect is unreachable, answered 5xx, or 409 while it rebalances. The hint
    follows ``status``: ``None`` (no answer), 409 or a server error."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, hint=_connect_hint(status))
        self.status = status


def _connect_hint(status: int | None) -> str:
    if status == 409:
        return "Kafka Connect is rebalancing; try again shortly"
    if status is not None and status >= 500:
        return ("the Connect worker failed to answer: look at its log, then try again "
                "(`cdc-facts local status` shows the local one)")
    return "is the Connect worker running? `cdc-facts local status`"


class KafkaUnavailableError(TransientError):
    """The Kafka broker cannot be reached."""


class DatabaseUnavailableError(TransientError):
    """The source database cannot be reached."""


class ConnectorFailedError(TerminalError):
    """A connector or one of its tasks is FAILED. ``trace`` is the Java stack trace Connect
    reports for it; ``task`` is the task id, or ``None`` when the connector itself failed."""

    def __init__(
        self,
        message: str,
        *,
        connector: str,
        task: int | None = None,
        trace: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.connector = connector
        self.task = task
        self.trace = trace


class KafkaFatalError(TerminalError):
    """A Kafka client hit a fatal error and cannot go on: another instance with the same
    ``transactional.id`` fenced it, the broker refused access, or it cannot speak the
    protocol the service needs. ``code`` is the client's error name."""

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


class StopRequested(CdcFactsError):
    """The service was asked to stop (SIGTERM, SIGINT) while a step was still waiting for
    Kafka, before it had read anything: it gives up the step and stops cleanly."""

    exit_code = 0


class TransactionAbortedError(KafkaUnavailableError):
    """The open Kafka transaction failed and was (or must be) aborted; the records it held
    are read and processed again. ``code`` is the client's error name."""

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code

"""Kafka client errors, turned into cdc-facts errors in one place.

confluent-kafka raises :class:`~confluent_kafka.KafkaException` holding a
:class:`~confluent_kafka.KafkaError` that says what may be done about it. An
:class:`ErrorPolicy` reads that: a *retriable* error retries the call with backoff, an
error that *requires abort* becomes :class:`~cdc_facts.errors.TransactionAbortedError`
(the service aborts and reads the records again), a *fatal* one becomes
:class:`~cdc_facts.errors.KafkaFatalError` (the service stops). The policy is injectable,
so that a caller can give it its own backoff, deadline or clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal, TypeVar

from confluent_kafka import KafkaError, KafkaException

from cdc_facts.errors import (
    CdcFactsError,
    KafkaFatalError,
    KafkaUnavailableError,
    StopRequested,
    TransactionAbortedError,
)
from cdc_facts.settings import ALTERNATE_SUFFIX

log = logging.getLogger(__name__)

#: Where the clients' own (librdkafka) log lines go, instead of straight to stderr.
CLIENT_LOG: Final = logging.getLogger("cdc_facts.kafka.client")


class _SharedSettingsFilter(logging.Filter):
    """The ``kafka`` settings go to every client, so a consumer setting reaches the
    producer too: its "is a consumer property and will be ignored" warning is expected,
    and only shown at debug level."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "CONFWARN" in message and ("is a consumer property" in message
                                      or "is a producer property" in message):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return CLIENT_LOG.isEnabledFor(logging.DEBUG)
        return True


CLIENT_LOG.addFilter(_SharedSettingsFilter())

T = TypeVar("T")

#: What to do about one client error.
Action = Literal["retry", "abort", "fatal"]

#: Errors the broker answers while it (re)elects leaders or coordinators, for instance just
#: after a topic was created: retriable, whatever flag the client gives them.
_ALWAYS_RETRIABLE: Final = frozenset({
    "_TIMED_OUT", "_TRANSPORT", "_ALL_BROKERS_DOWN", "REQUEST_TIMED_OUT",
    "NOT_LEADER_FOR_PARTITION", "LEADER_NOT_AVAILABLE", "UNKNOWN_TOPIC_OR_PART",
    "NOT_COORDINATOR", "COORDINATOR_NOT_AVAILABLE", "COORDINATOR_LOAD_IN_PROGRESS",
    "_WAIT_COORD", "REBALANCE_IN_PROGRESS", "UNSTABLE_OFFSET_COMMIT",
})
_FENCED: Final = frozenset({"_FENCED", "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH",
                            "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"})
_SAME_INSTANCE_ID: Final = ("another instance joined the group with the same instance id "
                            "(group.instance.id): give each instance its own --instance-id")
_HINTS: Final = {
    "_FENCED": "another instance runs with the same transactional.id (<group>-<instance id>): "
               "give each instance its own --instance-id",
    "PRODUCER_FENCED": "another instance runs with the same transactional.id "
                       "(<group>-<instance id>): give each instance its own --instance-id",
    "INVALID_PRODUCER_EPOCH": "a newer instance with the same transactional.id took over",
    "FENCED_INSTANCE_ID": _SAME_INSTANCE_ID,
    "TRANSACTIONAL_ID_AUTHORIZATION_FAILED": "grant the service's principal WRITE and "
                                             "DESCRIBE on its transactional ids, "
                                             "<group>-<instance id> and the same with "
                                             f"{ALTERNATE_SUFFIX} "
                                             "(a PREFIXED ACL on the first covers both)",
    "GROUP_AUTHORIZATION_FAILED": "grant the service's principal READ on its consumer group",
    "TOPIC_AUTHORIZATION_FAILED": "grant the service's principal access to the topics",
    "_TRANSPORT": "is the broker running? check --bootstrap-servers",
    "_ALL_BROKERS_DOWN": "is the broker running? check --bootstrap-servers",
}


def kafka_error(exc: KafkaException) -> KafkaError | None:
    """The :class:`KafkaError` inside a client exception, if it holds one."""
    error = exc.args[0] if exc.args else None
    return error if isinstance(error, KafkaError) else None


@dataclass(frozen=True)
class ErrorPolicy:
    """How to react to client errors: which to retry, how long, and with what backoff.

    Args:
        initial_backoff_s: the first pause before a retry; it doubles each time.
        max_backoff_s: the longest pause.
        retry_timeout_s: how long a call keeps being retried before
            :class:`~cdc_facts.errors.KafkaUnavailableError` is raised.
        stopped: whether a stop was asked for: then a failed call is not retried, and
            :class:`~cdc_facts.errors.StopRequested` is raised instead.
    """

    initial_backoff_s: float = 0.1
    max_backoff_s: float = 5.0
    retry_timeout_s: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    stopped: Callable[[], bool] = field(default=lambda: False, repr=False)

    def action(self, error: KafkaError) -> Action:
        """What to do about ``error``: retry the call, abort the transaction, or stop."""
        if error.fatal():
            return "fatal"
        if error.txn_requires_abort():
            return "abort"
        if error.retriable() or error.name() in _ALWAYS_RETRIABLE:
            return "retry"
        return "fatal"

    def call(self, what: str, operation: Callable[[], T]) -> T:
        """Run ``operation``, retrying it with backoff while its errors are retriable.

        Args:
            what: what the call does, for messages (``commit the transaction``).
            operation: the client call.

        Raises:
            TransactionAbortedError: the open transaction must be aborted.
            KafkaUnavailableError: the call still failed when the retry timeout passed.
            KafkaFatalError: the error is fatal, or neither retriable nor abortable.
            StopRequested: the call failed in a way worth retrying, but a stop was asked for.
        """
        deadline = self.clock() + self.retry_timeout_s
        backoff = self.initial_backoff_s
        while True:
            try:
                return operation()
            except KafkaException as exc:
                error = kafka_error(exc)
                action = "fatal" if error is None else self.action(error)
                if action != "retry" or self.clock() + backoff > deadline:
                    raise self.exception(what, exc, action) from exc
                if self.stopped():
                    raise StopRequested(f"stopped while waiting to {what}: {exc}") from exc
                log.warning("could not %s (%s): retrying in %.1f s", what, exc, backoff)
            self.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    def exception(self, what: str, exc: KafkaException, action: Action) -> CdcFactsError:
        """The cdc-facts error for a client error that ``action`` could not overcome."""
        error = kafka_error(exc)
        name = error.name() if error is not None else None
        text = error.str() if error is not None else str(exc)
        hint = _HINTS.get(name or "")
        if hint is None and "group.instance.id" in text:  # relayed as _FATAL by the consumer
            hint = _SAME_INSTANCE_ID
        if action == "abort":
            return TransactionAbortedError(f"could not {what}: {text}", code=name, hint=hint)
        if action == "retry":
            return KafkaUnavailableError(
                f"could not {what}: {text} (still failing after {self.retry_timeout_s:.0f} s)",
                hint=hint or "is the broker running? check --bootstrap-servers")
        return KafkaFatalError(f"could not {what}: {text}", code=name, hint=hint)


def is_fenced(error: KafkaError) -> bool:
    """Whether ``error`` says a newer instance with the same transactional.id took over."""
    return error.name() in _FENCED

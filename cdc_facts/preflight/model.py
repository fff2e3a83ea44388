"""Preflight results: each check passes, warns or fails, with what was seen and the remedy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cdc_facts.secrets import Secrets

Status = Literal["pass", "warn", "fail"]

#: Columns of Debezium's signal table, in order.
SIGNAL_COLUMNS = ("id", "type", "data")


@dataclass(frozen=True)
class Target:
    """What the connector will capture, from its rendered config.

    ``publication``, ``slot`` and ``publication_mode`` (Debezium's
    ``publication.autocreate.mode``) only matter for PostgreSQL.
    """

    connector: str
    user: str
    tables: tuple[str, ...]
    signal: str
    publication: str = ""
    slot: str = ""
    publication_mode: str = "filtered"


@dataclass(frozen=True)
class Check:
    """One preflight check.

    Attributes:
        name: What is checked, e.g. ``wal_level`` or ``replica identity``.
        status: ``pass``, ``warn`` or ``fail``.
        observed: What the database showed, e.g. ``replica``.
        remedy: The exact thing to do about a warning or a failure.
        subject: What the check is about when there are many, e.g. ``public.orders``.
        fix: Safe SQL statements that ``--fix`` applies (no restart ever needed).
    """

    name: str
    status: Status
    observed: str
    remedy: str = ""
    subject: str = ""
    fix: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``name`` with its subject, e.g. ``replica identity public.orders``."""
        return f"{self.name} {self.subject}" if self.subject else self.name


@dataclass
class Report:
    """Every check run against one connector's database, in order."""

    connector: str
    kind: str
    checks: list[Check] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)

    def add(self, check: Check) -> None:
        self.checks.append(check)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == "warn"]

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings allowed)."""
        return not self.failures

    @property
    def fixes(self) -> list[str]:
        """The safe fixes of the failed checks, in order, each statement once."""
        return list(dict.fromkeys(sql for c in self.failures for sql in c.fix))

    def to_json(self, secrets: Secrets | None = None) -> dict[str, object]:
        """A JSON document for ``--json``, secrets masked."""
        document = {
            "connector": self.connector,
            "kind": self.kind,
            "ok": self.ok,
            "checks": [
                {"check": c.name, "subject": c.subject, "status": c.status,
                 "observed": c.observed, "remedy": c.remedy, "fix": list(c.fix)}
                for c in self.checks
            ],
            "applied": list(self.applied),
        }
        masked = (secrets or Secrets()).mask_json(document)
        assert isinstance(masked, dict)
        return masked

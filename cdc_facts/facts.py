"""A fact: one immutable, named, timestamped business event, as a CloudEvents 1.0 event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Fact:
    """One business fact made by one rule from one change.

    ``data`` holds typed Python values (``Decimal``, ``datetime`` in UTC, ``date``...);
    encoding them to JSON is the job of the CloudEvents encoder in this module.
    """

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    data: dict[str, object]
    topic: str
    rule: str
    extensions: dict[str, str] = field(default_factory=dict)

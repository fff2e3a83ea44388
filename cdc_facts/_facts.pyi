"""Fact ids and the CloudEvents JSON of plain facts, compiled (see ``_facts.c``)."""

from datetime import datetime, tzinfo

from cdc_facts.changes import Change
from cdc_facts.facts import Fact
from cdc_facts.types import Row

def fact_id(prefix: bytes, tail: bytes, position: str, /) -> str: ...
def row_fact_id(prefix: bytes, tail: bytes, position: str, key: Row | None, /) -> str: ...
def encode(fact: Fact, /) -> bytes | None: ...
def make_fact(
    rule: tuple[bytes, bytes, str, str, str], change: Change, subject: str, time: datetime,
    data: dict[str, object], /,
) -> Fact | None: ...
def configure(
    decimal: type, utc: tzinfo, extensions: set[str], datacontenttype: str, fact: type[Fact], /
) -> None: ...

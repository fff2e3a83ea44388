"""Dead letters: a change record that cannot become facts, kept with why.

A dead letter holds the record's original key and value bytes, its original headers, and
``cdc-facts.*`` headers that say what went wrong and where the record came from.

>>> from cdc_facts.errors import EvaluationError
>>> headers = dead_letter_headers(EvaluationError("division by zero", rule="sales.X.v1"),
...                               "shop.public.orders", 0, 42)
>>> dict(headers)["cdc-facts.reason"], dict(headers)["cdc-facts.offset"]
(b'evaluation-error', b'42')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from cdc_facts.errors import RecordError

#: The header names, in the order they are written.
REASON: Final = "cdc-facts.reason"
ERROR_CLASS: Final = "cdc-facts.error-class"
MESSAGE: Final = "cdc-facts.message"
RULE: Final = "cdc-facts.rule"
TOPIC: Final = "cdc-facts.topic"
PARTITION: Final = "cdc-facts.partition"
OFFSET: Final = "cdc-facts.offset"

#: Longer messages are cut, so that a header never makes the record too large.
MAX_MESSAGE_BYTES: Final = 4096


def dead_letter_headers(
    error: RecordError,
    topic: str,
    partition: int,
    offset: int,
    original: Sequence[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None]
    | None = None,
) -> list[tuple[str, str | bytes | None]]:
    """The headers of the dead letter for the record at ``topic[partition]@offset``.

    ``cdc-facts.rule`` is empty when no rule was involved (an undecodable record, an
    unknown table). The record's ``original`` headers follow, unchanged.
    """
    headers: list[tuple[str, str | bytes | None]] = [
        (REASON, error.reason.encode()),
        (ERROR_CLASS, type(error).__name__.encode()),
        (MESSAGE, error.message.encode("utf-8", "replace")[:MAX_MESSAGE_BYTES]),
        (RULE, (error.rule or "").encode()),
        (TOPIC, topic.encode()),
        (PARTITION, str(partition).encode()),
        (OFFSET, str(offset).encode()),
    ]
    if isinstance(original, Mapping):
        headers.extend(original.items())
    elif original:
        headers.extend(original)
    return headers

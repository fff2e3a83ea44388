"""Debezium's unavailable-value placeholder: a value the database did not deliver."""

from __future__ import annotations

import binascii
import json

from cdc_facts.types import UNKNOWN, Row


class _Placeholders:
    """The forms Debezium gives its unavailable-value placeholder, and how to spot them.

    Text and JSON columns carry the text, bytes columns its base64, text arrays a
    one-element list of the text, integer arrays the list of its byte values.
    """

    def __init__(self, text: str) -> None:
        raw = text.encode()
        self.base64 = binascii.b2a_base64(raw, newline=False).decode()
        self.strings = frozenset({text, self.base64})
        self.lists = ([text], [b if b < 128 else b - 256 for b in raw])
        escaped = json.dumps(text, ensure_ascii=False)[1:-1]
        text_marks = (escaped, self.base64, ",".join(str(b) for b in self.lists[1]))
        self.text_marks = text_marks
        self.bytes_marks = tuple(mark.encode() for mark in text_marks)

    def present(self, raw: object, start: int) -> bool:
        """Whether the record text from ``start`` on may hold a placeholder.

        Always True for parsed input, which has no text to look at.
        """
        if isinstance(raw, bytes):
            a, b, c = self.bytes_marks
            return raw.find(a, start) >= 0 or raw.find(b, start) >= 0 or raw.find(c, start) >= 0
        if isinstance(raw, str):
            x, y, z = self.text_marks
            return raw.find(x, start) >= 0 or raw.find(y, start) >= 0 or raw.find(z, start) >= 0
        return True

    def replace(self, row: Row | None) -> None:
        """Replace every placeholder in ``row`` by :data:`UNKNOWN`, in place."""
        if row is None:
            return
        for name, value in row.items():
            cls = value.__class__
            if (cls is str and value in self.strings) or (cls is list and value in self.lists):
                row[name] = UNKNOWN

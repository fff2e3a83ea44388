"""Debezium's unavailable-value placeholder: a value the database did not deliver."""

from __future__ import annotations

import binascii

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

    def replace(self, row: Row | None) -> None:
        """Replace every placeholder in ``row`` by :data:`UNKNOWN`, in place.

        A row of plain values is looked at in one step (a set test, in C); only a row with
        a placeholder, an array or a nested value is looked at value by value.
        """
        if row is None:
            return
        try:
            if self.strings.isdisjoint(row.values()):
                return
        except TypeError:  # an array or a struct: unhashable, and an array may be one
            pass
        for name, value in row.items():
            cls = value.__class__
            if (cls is str and value in self.strings) or (cls is list and value in self.lists):
                row[name] = UNKNOWN

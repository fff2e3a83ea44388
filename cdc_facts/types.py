"""Type aliases and protocols shared by every layer."""

from __future__ import annotations

from typing import TypeAlias

#: A JSON document as the standard library decodes it.
JSON: TypeAlias = dict[str, "JSON"] | list["JSON"] | str | int | float | bool | None

#: A decoded row image (``before`` or ``after``): column name -> decoded value.
Row: TypeAlias = dict[str, object]


class _Unknown:
    """The type of :data:`UNKNOWN`."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        raise TypeError("UNKNOWN has no truth value; test it with `is UNKNOWN`")

    def __reduce__(self) -> str:
        return "UNKNOWN"


#: A value the database did not deliver: a TOAST placeholder, a missing before image, a
#: non-key before column under ``before_image: keys``. It is never the same as NULL (None).
UNKNOWN = _Unknown()

"""``LIKE`` and ``ILIKE`` patterns, translated once to regular expressions."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=256)
def like_regex(
    pattern: str, escape: str | None = "\\", ignore_case: bool = False
) -> re.Pattern[str]:
    """Compile a LIKE pattern: ``%`` is any text, ``_`` any one character, and the escape
    character (backslash unless told otherwise; ``''`` for none) makes the next one literal.

    >>> bool(like_regex("ship%").fullmatch("shipped"))
    True
    """
    if escape is not None and len(escape) > 1:
        raise ValueError("invalid escape string: ESCAPE takes a single character or ''")
    escape = escape or None
    parts: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == escape:
            following = next(chars, None)
            if following is None:
                raise ValueError("LIKE pattern must not end with escape character")
            parts.append(re.escape(following))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)

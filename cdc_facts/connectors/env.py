"""``${VAR}`` and ``${VAR:-default}`` substitution in connector specs.

>>> expand("${HOST:-127.0.0.1}:${PORT}", {"PORT": "5432"}).value
'127.0.0.1:5432'
>>> expand("${NOPE}", {}).missing
('NOPE',)
>>> expand("$${LITERAL}", {}).value
'${LITERAL}'

A default is plain text: it cannot hold another reference or a ``}``
(:func:`reference_problem` finds both).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_BROKEN = re.compile(r"\$\{(?![A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\})")


@dataclass(frozen=True)
class Expanded:
    """A string after substitution.

    Attributes:
        value: The text with every reference replaced (missing ones by ``""``).
        variables: Names of the variables referenced, in order.
        missing: Names of the referenced variables that are unset and have no default.
        defaulted: Names of the referenced variables whose default was used.
        with_default: Names of the referenced variables written with a default.
        literal: The text outside references (what was written in the file itself).
    """

    value: str
    variables: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    defaulted: tuple[str, ...] = ()
    with_default: tuple[str, ...] = ()
    literal: str = ""

    @property
    def only_references(self) -> bool:
        """Whether the whole text comes from variables (nothing literal, no default written)."""
        return bool(self.variables) and not self.literal.strip() and not self.with_default


def expand(text: str, env: Mapping[str, str]) -> Expanded:
    """Replace ``${VAR}``, ``${VAR:-default}`` and ``$$`` (a literal ``$``) in ``text``."""
    variables: list[str] = []
    missing: list[str] = []
    defaulted: list[str] = []
    with_default: list[str] = []
    literal: list[str] = []
    last = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal last
        literal.append(text[last : match.start()])
        last = match.end()
        if match.group(0) == "$$":
            literal.append("$")
            return "$"
        name, default = match.group(1), match.group(2)
        variables.append(name)
        if default is not None:
            with_default.append(name)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            defaulted.append(name)
            return default
        if name not in env:
            missing.append(name)
        return ""

    value = _REFERENCE.sub(replace, text)
    literal.append(text[last:])
    return Expanded(
        value, tuple(variables), tuple(missing), tuple(defaulted), tuple(with_default),
        "".join(literal),
    )


def reference_problem(text: str) -> tuple[int, str] | None:
    """Offset and description of the first reference that does not mean what it seems.

    >>> reference_problem("${1BAD}")
    (0, '`${1BAD}...` is not a valid reference; write ${VAR} or ${VAR:-default}')
    >>> reference_problem("${A:-${B}}")[1]
    '`${A:-${B}` holds `${` in its default: references do not nest; a default is plain text'
    >>> reference_problem("${A:-x}}")[1]
    '`}` after `${A:-x}` closes nothing: a default cannot hold `}`'
    >>> reference_problem("${HOST:-db}:${PORT}") is None
    True
    """
    stripped = text.replace("$$", "\0\0")
    for match in _REFERENCE.finditer(stripped):
        default = match.group(2)
        if default is not None and "${" in default:
            return match.start(), (f"`{match.group(0)}` holds `${{` in its default: "
                                   "references do not nest; a default is plain text")
        if default is not None and stripped.startswith("}", match.end()):
            return match.end(), (f"`}}` after `{match.group(0)}` closes nothing: a default "
                                 "cannot hold `}`")
    broken = broken_reference(text)
    if broken is not None:
        return broken, (f"`{text[broken:broken + 12]}...` is not a valid reference; write "
                        "${VAR} or ${VAR:-default}")
    return None


def broken_reference(text: str) -> int | None:
    """Offset of a ``${`` that does not start a valid reference, or ``None``.

    >>> broken_reference("${1BAD}")
    0
    >>> broken_reference("${GOOD:-x}") is None
    True
    """
    stripped = text.replace("$$", "\0\0")
    match = _BROKEN.search(stripped)
    return match.start() if match else None

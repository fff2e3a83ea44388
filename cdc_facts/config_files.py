"""Config files of the translator service (``cdc-facts run --config``): TOML or YAML, read
with the position of every key, so that each problem is reported at its ``file:line:col``.

A file that cannot be parsed is one problem at the place of its syntax error; the line is
not quoted, and every value written for a secret key (``sasl.password``...) is masked in
the message, even when the file cannot be parsed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from cdc_facts.errors import ConfigError, Problem
from cdc_facts.rules.syntax import character_problem, syntax_problem
from cdc_facts.secrets import MIN_MASKED_LENGTH, Secrets, is_secret_key


@dataclass(frozen=True)
class ConfigFile:
    """A parsed config file, and where each of its keys sits in it (YAML: ruamel's
    positions; TOML: the line that writes the key)."""

    path: Path
    text: str
    document: Mapping[str, Any]

    @classmethod
    def read(cls, path: Path) -> ConfigFile:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the config file {path}: {exc.strerror}",
                              hint="check the path given with --config") from exc
        if path.suffix not in (".toml", ".yaml", ".yml"):
            raise ConfigError(f"config file {path}: use a .toml, .yaml or .yml file")
        document = _load_document(path, text)
        if not isinstance(document, dict):
            raise ConfigError(f"config file {path} must hold the sections `service` and `kafka`")
        return cls(path, text, document)

    def error(self, problems: list[Problem]) -> ConfigError:
        """One error naming every problem, one per line, with secret values masked."""
        return _file_error(self.path, self.text, problems)

    def position(self, keys: tuple[str, ...], *, value: bool = False) -> tuple[int, int]:
        """1-based line and column of a key (or of its value), as near as can be told."""
        if self.path.suffix != ".toml":
            return _yaml_position(self.document, keys, value)
        return _toml_position(self.text, keys)


def _load_document(path: Path, text: str) -> object:
    """The document of a TOML or YAML file; a syntax error is one problem at its position."""
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        return YAML(typ="rt").load(text) or {}
    except tomllib.TOMLDecodeError as exc:
        at = _TOML_AT.search(str(exc))
        line, col = (int(at.group(1)), int(at.group(2))) if at else (1, 1)
        problem = Problem(str(path), line, col,
                          f"TOML syntax error: {_TOML_AT.sub('', str(exc)).strip()}")
    except MarkedYAMLError as exc:
        # no suggestion: it would repeat the line, and the line may hold a secret
        problem = replace(syntax_problem(str(path), text, exc), suggestion=None)
    except ReaderError as exc:
        problem = character_problem(str(path), text, exc)
    except YAMLError as exc:
        problem = Problem(str(path), 1, 1, f"YAML error: {type(exc).__name__}")
    raise _file_error(path, text, [problem])


def _file_error(path: Path, text: str, problems: list[Problem]) -> ConfigError:
    if len(problems) == 1:
        message = str(problems[0])
    else:
        message = (f"{len(problems)} problems in the config file {path}:\n  "
                   + "\n  ".join(str(p) for p in problems))
    error = ConfigError(message, problems=problems,
                        hint="fix the config file; docs/service.md lists every setting")
    return _written_secrets(text).mask_error(error)


_TOML_AT: Final = re.compile(r"\(at line (\d+), column (\d+)\)")
#: ``key: value`` or ``key = value`` on one line of a config file, as written.
_WRITTEN: Final = re.compile(r"""^\s*(?:-\s+)?["']?([^"'\s:=#]+)["']?\s*[:=][ \t]*(.*?)\s*$""")


def _written_secrets(text: str) -> Secrets:
    """The values written for secret keys in ``text``, read line by line (a block scalar's
    lines too), so that they are masked even when the file cannot be parsed."""
    secrets, block_indent = Secrets(), None
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        if block_indent is not None and (indent > block_indent or not line.strip()):
            _add_written(secrets, line.strip())
            continue
        block_indent = None
        match = _WRITTEN.match(line)
        if match is None or not is_secret_key(match.group(1)):
            continue
        value = re.sub(r"\s+#.*$", "", match.group(2)).strip()
        if not value or value[0] in "|>":
            block_indent = indent
        for form in (match.group(2), value, value.strip("'\""), value.lstrip("*&")):
            _add_written(secrets, form)
    return secrets


def _add_written(secrets: Secrets, value: str) -> None:
    if len(value) >= MIN_MASKED_LENGTH:  # shorter ones are not masked in text anyway
        secrets.add(value)


def _yaml_position(node: Any, keys: tuple[str, ...], value: bool) -> tuple[int, int]:
    line, col = 0, 0
    for index, key in enumerate(keys):
        if not hasattr(node, "lc"):
            break
        try:
            last = index == len(keys) - 1
            line, col = node.lc.value(key) if (value and last) else node.lc.key(key)
        except (KeyError, TypeError):
            break
        node = node.get(key) if isinstance(node, dict) else None
    return int(line) + 1, int(col) + 1


def _toml_position(text: str, keys: tuple[str, ...]) -> tuple[int, int]:
    """The line that writes ``keys`` (``[section]``, then ``a.b = ...`` or ``"a.b" = ...``)."""
    lines = text.splitlines()
    header = re.compile(rf"^\s*\[\s*{re.escape(keys[0])}\s*[\].]")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        return 1, 1
    dotted = ".".join(keys[1:])
    for number in range(start + 1, len(lines) if dotted else start + 1):
        written = _TOML_KEY.match(lines[number])
        if written is None:
            continue
        key = re.sub(r"[\s'\"]", "", written.group(1))
        if dotted == key or dotted.endswith(f".{key}"):
            return number + 1, written.start(1) + 1
    return start + 1, lines[start].index("[") + 1


_TOML_KEY: Final = re.compile(r"^\s*([^=\[#][^=]*?)\s*=")

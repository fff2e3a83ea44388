"""Parsing JSON text: the fastest parser installed, and how a parse failure is worded."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any, Final

#: The hint of every error about a record that is not what JsonConverter writes.
_HINT: Final = (
    "the topic must carry Debezium change events written by "
    "org.apache.kafka.connect.json.JsonConverter"
)


def _fast_json_loads() -> Callable[[bytes | str], Any]:
    """orjson's ``loads`` when it is installed (3x faster), else the standard library's."""
    try:
        module = importlib.import_module("orjson")
    except ModuleNotFoundError:
        return json.loads
    return module.loads  # type: ignore[no-any-return]


_loads: Final = _fast_json_loads()



def _json_type(value: object) -> str:
    names = {list: "array", dict: "object", str: "string", int: "number", float: "number",
             bool: "boolean"}
    return names.get(type(value), type(value).__name__)


def _not_json_reason(raw: bytes | str, what: str, exc: ValueError) -> str:
    if raw[:1] in (b"\x00", "\x00"):
        return (
            f"record {what} starts with byte 0x00: it is in a schema registry wire format "
            "(Avro, Protobuf or JSON Schema), not JsonConverter JSON"
        )
    return f"record {what} is not JSON ({exc})"

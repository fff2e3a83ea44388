"""The pinned versions of the local stack, read from ``stack-pom.xml`` (their one home)."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - our own packaged file
from dataclasses import dataclass
from functools import cache
from pathlib import Path

POM = Path(__file__).with_name("stack-pom.xml")
_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


@dataclass(frozen=True)
class StackVersions:
    kafka: str
    debezium: str
    apicurio: str

    @property
    def debezium_short(self) -> str:
        """``3.5.0.Final`` -> ``3.5.0``, as container image tags spell it."""
        return self.debezium.removesuffix(".Final")


@cache
def stack_versions() -> StackVersions:
    """Read the versions pinned in the stack POM.

    >>> stack_versions().kafka.startswith("4.")
    True
    """
    root = ET.parse(POM).getroot()  # noqa: S314 - our own packaged file
    props = root.find("m:properties", _NS)
    assert props is not None

    def prop(name: str) -> str:
        node = props.find(f"m:{name}", _NS)
        assert node is not None and node.text, name
        return node.text.strip()

    return StackVersions(
        kafka=prop("kafka.version"),
        debezium=prop("debezium.version"),
        apicurio=prop("apicurio.version"),
    )

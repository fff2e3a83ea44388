"""Connector specs: load ``connectors/*.yaml`` and render them into Debezium configs."""

from cdc_facts.connectors.render import (
    CONNECTOR_CLASSES,
    pg_name,
    render,
    server_id,
    signal_collection,
    signal_table,
)
from cdc_facts.connectors.spec import KINDS, ConnectorSpec, DatabaseSpec, load_spec, parse_spec

__all__ = [
    "CONNECTOR_CLASSES",
    "KINDS",
    "ConnectorSpec",
    "DatabaseSpec",
    "load_spec",
    "parse_spec",
    "pg_name",
    "render",
    "server_id",
    "signal_collection",
    "signal_table",
]

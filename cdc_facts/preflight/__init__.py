"""Preflight: can the database deliver what the connector and the mapping rules need?

Each check passes, warns or fails with what it saw and the exact remedy; ``fix=True``
applies the safe fixes (REPLICA IDENTITY FULL, the publication, the signal table) and
never anything that needs a restart.
"""

from cdc_facts.preflight.model import Check, Report, Status, Target
from cdc_facts.preflight.needs import ColumnRead, TableNeeds, read_rules
from cdc_facts.preflight.run import (
    SUPPORTED,
    admin_params,
    connection_params,
    parse_dsn,
    run_preflight,
)

__all__ = [
    "SUPPORTED",
    "Check",
    "ColumnRead",
    "Report",
    "Status",
    "TableNeeds",
    "Target",
    "admin_params",
    "connection_params",
    "parse_dsn",
    "read_rules",
    "run_preflight",
]

"""cdc-facts: turn database state changes captured by Debezium into business facts."""

from cdc_facts.changes import Change
from cdc_facts.errors import CdcFactsError, TerminalError, TransientError
from cdc_facts.facts import Fact
from cdc_facts.types import UNKNOWN

__all__ = [
    "UNKNOWN",
    "CdcFactsError",
    "Change",
    "Fact",
    "TerminalError",
    "TransientError",
]

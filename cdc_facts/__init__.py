"""cdc-facts: turn database state changes captured by Debezium into business facts.

>>> from cdc_facts import Translator, load_mappings  # doctest: +SKIP
>>> translator = Translator(load_mappings(["mappings/"]))  # doctest: +SKIP
>>> result = translator.translate_record(value, key, topic, partition, offset)  # doctest: +SKIP
>>> result.facts  # doctest: +SKIP
"""

from cdc_facts.changes import Change
from cdc_facts.contracts import FactContract, fact_schema
from cdc_facts.envelope import EnvelopeSettings, decode_change
from cdc_facts.errors import (
    CdcFactsError,
    MappingError,
    Problem,
    RecordError,
    TerminalError,
    TransientError,
)
from cdc_facts.facts import Fact, encode_fact, fact_headers, to_cloudevent
from cdc_facts.rules import Mapping, Rule, RuleSet, load_mappings, validate_mappings
from cdc_facts.translator import TranslationResult, Translator
from cdc_facts.types import UNKNOWN

__all__ = [
    "UNKNOWN",
    "CdcFactsError",
    "Change",
    "EnvelopeSettings",
    "Fact",
    "FactContract",
    "Mapping",
    "MappingError",
    "Problem",
    "RecordError",
    "Rule",
    "RuleSet",
    "TerminalError",
    "TransientError",
    "TranslationResult",
    "Translator",
    "decode_change",
    "encode_fact",
    "fact_headers",
    "fact_schema",
    "load_mappings",
    "to_cloudevent",
    "validate_mappings",
]

"""Mapping files: their model, loading and validation.

>>> from cdc_facts.rules import load_mappings  # doctest: +SKIP
>>> ruleset = load_mappings(["mappings/"])  # doctest: +SKIP
>>> sorted(ruleset.tables())[0]  # doctest: +SKIP
('legacy-shop', 'public.customers')
"""

from cdc_facts.rules.loader import MappingReport, load_mappings, read_mappings, validate_mappings
from cdc_facts.rules.model import (
    ColumnsRead,
    Example,
    ExpectedFact,
    FieldSpec,
    Mapping,
    Rule,
    RuleSet,
    SourceSpec,
)

__all__ = [
    "ColumnsRead",
    "Example",
    "ExpectedFact",
    "FieldSpec",
    "Mapping",
    "MappingReport",
    "Rule",
    "RuleSet",
    "SourceSpec",
    "load_mappings",
    "read_mappings",
    "validate_mappings",
]

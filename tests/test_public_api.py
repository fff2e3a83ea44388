"""The curated public API: a short, sorted ``__all__`` whose names all exist."""

from __future__ import annotations

from types import ModuleType

import cdc_facts

EXPECTED = [
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


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions, each alphabetically (ruff's RUF022 order)."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


def test_all_is_the_curated_list() -> None:
    assert cdc_facts.__all__ == EXPECTED


def test_all_is_sorted() -> None:
    assert cdc_facts.__all__ == sorted(cdc_facts.__all__, key=_isort_key)


def test_every_exported_name_exists_and_nothing_public_is_left_out() -> None:
    for name in cdc_facts.__all__:
        assert getattr(cdc_facts, name) is not None
    public = {n for n in vars(cdc_facts) if not n.startswith("_")}
    modules = {n for n in public if isinstance(getattr(cdc_facts, n), ModuleType)}
    assert public - modules == set(cdc_facts.__all__)

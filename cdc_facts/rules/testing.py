"""Running the examples of mapping files: ``cdc-facts test``.

Each example's change goes through a translator made from its own file only, so a file's
examples do not depend on other files over the same table. Expected facts compare only
the attributes they state; ``data``, when stated, is compared as a whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from cdc_facts.changes import Change
from cdc_facts.contracts import converter
from cdc_facts.envelope import DEFAULT_UNAVAILABLE_VALUE
from cdc_facts.errors import RecordError
from cdc_facts.facts import Fact
from cdc_facts.json_forms import EncodeError, encode_mapping
from cdc_facts.rules.model import Example, ExpectedFact, Mapping, Rule, RuleSet, columns_read
from cdc_facts.translator import Translator
from cdc_facts.types import JSON, UNKNOWN

#: The commit time of example changes unless they state ``ts_ms``: 2024-01-01T00:00:00Z.
EXAMPLE_TS_MS: Final = 1704067200000


@dataclass(frozen=True)
class Mismatch:
    """One attribute of one expected fact that differs from the actual fact."""

    index: int
    attribute: str
    expected: object
    actual: object


@dataclass
class ExampleResult:
    """The outcome of one example: the facts made, the error raised, what differs."""

    mapping: Mapping
    example: Example
    facts: list[Fact] = field(default_factory=list)
    error: RecordError | None = None
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when the example made exactly the expected facts."""
        return self.error is None and not self.mismatches


def run_examples(
    mappings: Iterable[Mapping], *, unavailable_value: str = DEFAULT_UNAVAILABLE_VALUE
) -> list[ExampleResult]:
    """Run the examples of every mapping, in file order."""
    results = []
    for mapping in mappings:
        translator = Translator(RuleSet((mapping,)), unavailable_value=unavailable_value)
        for index, example in enumerate(mapping.examples):
            change = example_change(mapping, example, index, unavailable_value)
            results.append(run_example(translator, mapping, example, change))
    return results


def run_example(
    translator: Translator, mapping: Mapping, example: Example, change: Change
) -> ExampleResult:
    """Translate one example's change and compare the facts with the expected ones."""
    result = ExampleResult(mapping, example)
    try:
        result.facts = translator.translate(change)
    except RecordError as exc:
        result.error = exc
        return result
    rules = {rule.fact_type: rule for rule in mapping.rules}
    result.mismatches = compare_facts(example.expect, result.facts, rules)
    return result


def example_change(
    mapping: Mapping, example: Example, index: int,
    unavailable_value: str = DEFAULT_UNAVAILABLE_VALUE,
) -> Change:
    """The change an example describes, with source fields defaulted from its mapping.

    The placeholder ``unavailable_value`` in ``before`` or ``after`` stands for a value
    the database did not deliver (unknown); a column the example leaves out is NULL.

    The mapping's ``table`` is ``schema.table`` (PostgreSQL) or ``db.table`` (MySQL,
    MariaDB), and nothing in it tells which: its first part is both ``source.schema`` and
    ``source.db``, so that rules reading either find it. An example states ``source`` to
    be exact: ``{schema: null}`` as MySQL writes it, ``{db: shop}`` for PostgreSQL's
    database.
    """
    raw = example.change
    schema, _, table = mapping.source.table.partition(".")
    source: dict[str, object] = {
        "connector": "example", "name": mapping.source.connector, "db": schema,
        "schema": schema, "table": table, "ts_ms": raw.get("ts_ms", EXAMPLE_TS_MS),
        "lsn": 1000 + index, "snapshot": "true" if raw.get("op") == "r" else "false",
    }
    overrides = raw.get("source")
    if isinstance(overrides, dict):
        source.update(overrides)
    read = [columns_read(mapping.source, rule) for rule in mapping.rules]
    before = _row(raw.get("before"), unavailable_value, {c for r in read for c in r.before | r.row})
    after = _row(raw.get("after"), unavailable_value, {c for r in read for c in r.after | r.row})
    return Change(
        op=str(raw["op"]), before=before, after=after, source=source,
        ts_ms=EXAMPLE_TS_MS, key=_key(raw, mapping, before, after),
    )


def _row(row: object, placeholder: str, read: set[str]) -> dict[str, object] | None:
    """An example's image: the columns it states, and NULL for the others the rules read."""
    if not isinstance(row, dict):
        return None
    image: dict[str, object] = dict.fromkeys(sorted(read))
    image.update((str(c), UNKNOWN if v == placeholder else v) for c, v in row.items())
    return image


def _key(
    raw: dict[str, object], mapping: Mapping,
    before: dict[str, object] | None, after: dict[str, object] | None,
) -> dict[str, object] | None:
    key = raw.get("key")
    if isinstance(key, dict):
        return {str(c): v for c, v in key.items()}
    row = after if after is not None else before
    if not mapping.source.key_columns or row is None:
        return None
    return {c: row.get(c) for c in mapping.source.key_columns}


def compare_facts(
    expected: Iterable[ExpectedFact], facts: list[Fact], rules: dict[str, Rule]
) -> list[Mismatch]:
    """Every difference between expected and actual facts, in order."""
    expected = list(expected)
    mismatches: list[Mismatch] = []
    if len(expected) != len(facts):
        mismatches.append(Mismatch(
            -1, "count", [e.attributes.get("type") for e in expected], [f.type for f in facts]))
    for index, (want, got) in enumerate(zip(expected, facts, strict=False)):
        mismatches.extend(_compare(index, want, got, rules.get(got.type)))
    return mismatches


def _compare(index: int, want: ExpectedFact, got: Fact, rule: Rule | None) -> list[Mismatch]:
    found = []
    for attribute, value in want.attributes.items():
        actual = _actual(got, attribute)
        if attribute == "data" and isinstance(value, dict):
            found.extend(_data_mismatches(index, value, got.data, rule))
        elif not _same(value, actual, None):
            found.append(Mismatch(index, attribute, value, actual))
    return found


def _actual(fact: Fact, attribute: str) -> object:
    if attribute in ("key", "subject"):
        return fact.subject
    if attribute == "snapshot":
        return fact.extensions.get("cdcsnapshot") == "true"
    return getattr(fact, attribute, None)


class _Absent:
    """The value of a data field a fact or its expectation does not have."""

    def __repr__(self) -> str:
        return "(absent)"


#: What a :class:`Mismatch` holds for a data field that is missing on one side.
ABSENT: Final = _Absent()


def _data_mismatches(
    index: int, want: dict[str, object], got: dict[str, object], rule: Rule | None
) -> list[Mismatch]:
    """One mismatch per data field that differs, is missing or is extra."""
    types = {spec.name: spec.type for spec in rule.fields} if rule is not None else {}
    found = []
    for name in [*want, *(n for n in got if n not in want)]:
        expected, actual = want.get(name, ABSENT), got.get(name, ABSENT)
        declared = types.get(name)
        if name not in want or name not in got or not (
            _same(expected, actual, declared) if declared not in (None, "json")
            else _same_json(expected, actual)
        ):
            found.append(Mismatch(index, f"data.{name}", expected, actual))
    return found


def _same(want: object, got: object, declared: object) -> bool:
    """Whether an expected value (as YAML wrote it) means the actual value."""
    if want is None or got is None:
        return want is None and got is None
    if isinstance(got, str) and not isinstance(want, str | dict | list):
        want = converter("string")(want)
    kind = declared or _kind_of(got)
    if kind is not None and kind != "json":
        try:
            want = converter(kind)(want)  # type: ignore[arg-type]
        except (ValueError, TypeError, ArithmeticError):
            return False
    return want == got and type(want) is type(got) or _numeric_equal(want, got)


def _same_json(want: object, got: object) -> bool:
    """Whether an expected value is the actual one as the fact's JSON writes it, exactly:
    ``true`` is not ``"true"`` nor ``1``, ``7`` is not ``"7"``; numbers compare by value."""
    try:
        forms = encode_mapping({"want": want, "got": got})
    except EncodeError:
        return False
    return _json_equal(forms["want"], forms["got"])


def _json_equal(want: JSON, got: JSON) -> bool:
    if isinstance(want, dict) and isinstance(got, dict):
        return want.keys() == got.keys() and all(_json_equal(want[k], got[k]) for k in want)
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(map(_json_equal, want, got))
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if isinstance(want, int | float) and isinstance(got, int | float):
        return want == got
    return type(want) is type(got) and want == got


def _kind_of(value: object) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, date):
        return "date"
    return None


def _numeric_equal(want: object, got: object) -> bool:
    numbers = (int, float, Decimal)
    if isinstance(want, bool) or isinstance(got, bool):
        return False
    return isinstance(want, numbers) and isinstance(got, numbers) and want == got

"""Loading mapping files: every check, every problem with its position, then the model.

:func:`load_mappings` is fail-fast for the service: it raises one :class:`MappingError`
carrying every problem. :func:`validate_mappings` returns the problems instead, and
:func:`read_mappings` returns both the valid mappings and the problems, for
``cdc-facts validate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdc_facts.errors import MappingError, Problem
from cdc_facts.rules.definitions import FactDefinition, read_fact
from cdc_facts.rules.document import Document, key_position, parse_document, value_position
from cdc_facts.rules.examples import read_examples
from cdc_facts.rules.model import BeforeImage, Mapping, Rule, RuleSet, SourceSpec
from cdc_facts.rules.schema import (
    DOMAIN_RE,
    SOURCE_KEYS,
    TABLE_RE,
    TOP_KEYS,
    TOPIC_RE,
    check_keys,
)

MAPPING_SUFFIXES = (".yaml", ".yml")


@dataclass
class MappingReport:
    """What reading mapping files found: the files, the valid mappings and every problem."""

    files: list[str] = field(default_factory=list)
    mappings: list[Mapping] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """The problems that make the mappings unusable (warnings excluded)."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems that leave the mappings usable (three-valued-logic traps...)."""
        return [p for p in self.problems if p.severity != "error"]

    @property
    def ruleset(self) -> RuleSet:
        """The rule set of every mapping that is valid."""
        return RuleSet(tuple(self.mappings))


def load_mappings(paths: Sequence[Path | str]) -> RuleSet:
    """Load mapping files and directories (searched for ``**/*.yaml`` and ``**/*.yml``).

    Raises:
        MappingError: with every problem found across all files, if any is an error.
    """
    report = read_mappings(paths)
    if report.errors:
        raise MappingError(report.problems)
    return report.ruleset


def validate_mappings(paths: Sequence[Path | str]) -> list[Problem]:
    """Every problem (errors and warnings) in the mapping files, in file order."""
    return read_mappings(paths).problems


def read_mappings(paths: Sequence[Path | str]) -> MappingReport:
    """Read every mapping file under ``paths``: the valid mappings and every problem."""
    report = MappingReport()
    definitions: list[FactDefinition] = []
    sources: list[_PlacedSource] = []
    for path in _mapping_files(paths, report):
        report.files.append(str(path))
        placed, found, defined = _read_file(path)
        report.problems.extend(found)
        definitions.extend(defined)
        if placed is not None:
            report.mappings.append(placed.mapping)
            sources.append(placed)
    report.problems.extend(_duplicate_fact_types(definitions))
    report.problems.extend(_conflicting_sources(sources))
    return report


@dataclass(frozen=True)
class _PlacedSource:
    """A valid mapping and where its ``source`` states what every file over its table must
    agree on: each of ``key`` and ``before_image`` as ``(line, col, the key written)``,
    at ``source:`` when the file leaves it out."""

    mapping: Mapping
    key: tuple[int, int, str]
    before_image: tuple[int, int, str]

    @staticmethod
    def of(doc: Document, mapping: Mapping) -> _PlacedSource:
        node = doc.data["source"]
        found = {name: (*key_position(node, name), name) if name in node
                 else (*key_position(doc.data, "source"), "source")
                 for name in ("key", "before_image")}
        return _PlacedSource(mapping, found["key"], found["before_image"])

    @property
    def table(self) -> tuple[str, str]:
        return self.mapping.source.connector, self.mapping.source.table


def _mapping_files(paths: Sequence[Path | str], report: MappingReport) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in MAPPING_SUFFIXES)
            if not found:
                report.problems.append(Problem(
                    str(path), 1, 1, "no mapping files (*.yaml, *.yml) in this directory"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            report.problems.append(Problem(str(path), 1, 1, "no such file or directory"))
    if not paths:
        report.problems.append(Problem(".", 1, 1, "no mapping files given"))
    unique: dict[Path, Path] = {}  # a file named twice (relative, absolute, via ..) is one
    for file in files:
        unique.setdefault(file.resolve(), file)
    return list(unique.values())


def _read_file(path: Path) -> tuple[_PlacedSource | None, list[Problem], list[FactDefinition]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(str(path), 1, 1, f"cannot read the file: {exc.strerror or exc}")], []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [_not_utf8(str(path), raw, exc)], []
    doc, problems = parse_document(str(path), text)
    if doc is None:
        return None, problems, []
    if doc.data is None:
        return None, [*problems, Problem(doc.file, 1, 1, "the file is empty")], []
    mapping, found, definitions = _read_mapping(doc)
    problems.extend(found)
    problems.sort(key=lambda p: (p.line, p.col))
    if mapping is None or any(p.severity == "error" for p in problems):
        return None, problems, definitions
    return _PlacedSource.of(doc, mapping), problems, definitions


def _not_utf8(file: str, raw: bytes, exc: UnicodeDecodeError) -> Problem:
    """Where the first byte that is not UTF-8 sits, as a line and a column."""
    before = raw[: exc.start]
    line_start = before.rfind(b"\n") + 1
    col = len(before[line_start:].decode("utf-8", errors="replace")) + 1
    return Problem(
        file, before.count(b"\n") + 1, col,
        f"the file is not UTF-8: byte 0x{raw[exc.start]:02x} here ({exc.reason}); "
        "save the file as UTF-8",
    )


def _read_mapping(doc: Document) -> tuple[Mapping | None, list[Problem], list[FactDefinition]]:
    data = doc.data
    problems = check_keys(doc, data, TOP_KEYS, "the mapping file")
    if problems and not hasattr(data, "items"):
        return None, problems, []
    domain = _domain(doc, data, problems)
    source = _source(doc, data, problems)
    rules, definitions = _facts(doc, data, domain, source, problems)
    examples, found = read_examples(doc, data.get("examples"), rules, source)
    problems.extend(found)
    if domain is None or source is None or rules is None:
        return None, problems, definitions
    owner = str(data.get("owner", "")).strip()
    mapping = Mapping(doc.file, domain, owner, source, tuple(rules), tuple(examples))
    return mapping, problems, definitions


def _domain(doc: Document, data: Any, problems: list[Problem]) -> str | None:
    domain = data.get("domain")
    if not isinstance(domain, str):
        return None
    if not DOMAIN_RE.match(domain):
        line, col = value_position(data, "domain")
        problems.append(Problem(
            doc.file, line, col,
            f"domain `{domain}` must be lower case words separated by dots, e.g. `sales`; "
            "it prefixes fact types and topics",
            fragment=domain, suggestion=_lower_domain(domain),
        ))
        return None
    return domain


def _lower_domain(domain: str) -> str | None:
    candidate = domain.strip().lower().replace(" ", "-")
    return candidate if DOMAIN_RE.match(candidate) else None


def _source(doc: Document, data: Any, problems: list[Problem]) -> SourceSpec | None:
    node = data.get("source")
    if node is None:
        return None
    found = check_keys(doc, node, SOURCE_KEYS, "`source`")
    problems.extend(found)
    if found:
        return None
    connector, table = str(node["connector"]), str(node["table"])
    ok = _check_source_names(doc, node, connector, table, problems)
    raw_key = node.get("key")
    key = tuple(str(k) for k in raw_key) if isinstance(raw_key, list) else ()
    if isinstance(raw_key, str):
        key = (raw_key,)
    before_image: BeforeImage = "keys" if node.get("before_image") == "keys" else "full"
    return SourceSpec(connector, table, before_image, key) if ok else None


def _check_source_names(
    doc: Document, node: Any, connector: str, table: str, problems: list[Problem]
) -> bool:
    ok = True
    if not TOPIC_RE.match(connector):
        line, col = value_position(node, "connector")
        problems.append(Problem(
            doc.file, line, col,
            f"connector `{connector}` may hold only letters, digits, `.`, `_` and `-` "
            "(it is the Debezium topic.prefix)", fragment=connector))
        ok = False
    if not TABLE_RE.match(table):
        line, col = value_position(node, "table")
        problems.append(Problem(
            doc.file, line, col,
            f"table `{table}` must be `schema.table` (PostgreSQL) or `db.table` (MySQL, MariaDB)",
            fragment=table, suggestion=f"public.{table}" if "." not in table else None))
        ok = False
    return ok


def _facts(
    doc: Document, data: Any, domain: str | None, source: SourceSpec | None,
    problems: list[Problem],
) -> tuple[list[Rule] | None, list[FactDefinition]]:
    node = data.get("facts")
    if not isinstance(node, list):
        return None, []
    rules: list[Rule] = []
    definitions: list[FactDefinition] = []
    complete = True
    for index in range(len(node)):
        rule, found, definition = read_fact(doc, node, index, domain, source)
        problems.extend(found)
        if definition is not None:
            definitions.append(definition)
        if rule is None:
            complete = False
        else:
            rules.append(rule)
    return (rules if complete else None), definitions


def _duplicate_fact_types(definitions: list[FactDefinition]) -> list[Problem]:
    by_type: dict[str, list[FactDefinition]] = {}
    for definition in definitions:
        by_type.setdefault(definition.fact_type, []).append(definition)
    problems: list[Problem] = []
    for fact_type, places in by_type.items():
        if len(places) < 2:
            continue
        for place in places:
            others = ", ".join(o.location() for o in places if o is not place)
            problems.append(Problem(
                place.file, place.line, place.col,
                f"fact type `{fact_type}` is defined more than once (also at {others}); "
                "rename one, or bump `version` for a new contract",
                fragment=place.name,
            ))
    return problems


def _conflicting_sources(sources: list[_PlacedSource]) -> list[Problem]:
    """Files over one table that disagree on the table: its before image, or its key
    columns where both declare them. Each is reported in the later file, where it says so."""
    first: dict[tuple[str, str], _PlacedSource] = {}
    keyed: dict[tuple[str, str], _PlacedSource] = {}
    problems: list[Problem] = []
    for placed in sources:
        source = placed.mapping.source
        seen = first.setdefault(placed.table, placed)
        if seen.mapping.source.before_image != source.before_image:
            problems.append(_disagreement(
                placed, placed.before_image, seen, "before_image",
                f"`before_image: {source.before_image}`",
                f"`before_image: {seen.mapping.source.before_image}`",
                "the database delivers one before image per table: make the files agree"))
        if not source.key_columns:
            continue
        declared = keyed.setdefault(placed.table, placed)
        if declared.mapping.source.key_columns != source.key_columns:
            problems.append(_disagreement(
                placed, placed.key, declared, "key", _key_text(source.key_columns),
                _key_text(declared.mapping.source.key_columns),
                "a table has one key, and the translator reads the before image by it: "
                "declare the same columns in every file over the table, or leave `key` "
                "out of all files but one"))
    return problems


def _disagreement(placed: _PlacedSource, where: tuple[int, int, str], other: _PlacedSource,
                  name: str, ours: str, theirs: str, advice: str) -> Problem:
    line, col, fragment = where
    return Problem(
        placed.mapping.file, line, col,
        f"{ours} for {placed.table[1]} disagrees with {theirs} in {other.mapping.file}"
        f"{'' if fragment == name else f' (this file leaves `{name}` out)'}; {advice}",
        fragment=fragment,
    )


def _key_text(columns: tuple[str, ...]) -> str:
    return f"`key: [{', '.join(columns)}]`"

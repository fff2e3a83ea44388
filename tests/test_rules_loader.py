"""Loading mapping files: every problem, at its place, with a suggestion."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cdc_facts.errors import MappingError, Problem
from cdc_facts.rules import load_mappings, read_mappings, validate_mappings

VALID = """\
domain: sales
owner: sales-data-team
source:
  connector: legacy-shop
  table: public.orders
facts:
  - name: OrderShipped
    version: 1
    when: op = 'u' AND after.status = 'shipped'
    key: after.id
    data:
      order_id: after.id
      total: {expr: after.total, type: decimal, nullable: false}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(tmp_path: Path, text: str) -> list[Problem]:
    return validate_mappings([write(tmp_path, "m.yaml", text)])


def only(problems: list[Problem]) -> Problem:
    errors = [p for p in problems if p.severity == "error"]
    assert len(errors) == 1, [str(p) for p in problems]
    return errors[0]


def at(problem: Problem) -> tuple[int, int]:
    return problem.line, problem.col


def test_a_valid_file_loads_into_rules(tmp_path: Path) -> None:
    ruleset = load_mappings([write(tmp_path, "m.yaml", VALID)])
    (rule,) = ruleset.rules
    assert rule.fact_type == "sales.OrderShipped.v1"
    assert rule.topic == "facts.sales.OrderShipped.v1"
    assert (rule.snapshot, rule.on_unknown) == ("skip", "error")
    assert [(f.name, f.type, f.nullable) for f in rule.fields] == [
        ("order_id", None, True), ("total", "decimal", False)]
    assert rule.line == 7 and rule.file.endswith("m.yaml")


def test_directories_are_searched_for_yaml_and_yml(tmp_path: Path) -> None:
    write(tmp_path, "a/one.yaml", VALID)
    write(tmp_path, "b/two.yml", VALID.replace("OrderShipped", "OrderPaid"))
    write(tmp_path, "b/notes.md", "not a mapping")
    report = read_mappings([tmp_path])
    assert [Path(f).name for f in report.files] == ["one.yaml", "two.yml"]
    assert not report.problems


def test_a_file_named_twice_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "a/one.yaml", VALID)
    monkeypatch.chdir(tmp_path)
    report = read_mappings([Path("a"), path, tmp_path / "a" / ".." / "a" / "one.yaml"])
    assert report.files == [str(Path("a/one.yaml"))]
    assert not report.problems


def test_missing_paths_and_empty_directories_are_problems(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    problems = validate_mappings([tmp_path / "nope.yaml", tmp_path / "empty"])
    assert ["no such file" in p.message or "no mapping files" in p.message
            for p in problems] == [True, True]


def test_unknown_key_suggests_the_close_name(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("    key: after.id", "    key: after.id\n"
                                                        "    occured_at: after.shipped_at")))
    assert at(problem) == (11, 5)
    assert problem.suggestion == "occurred_at" and problem.fragment == "occured_at"
    assert "unknown key `occured_at`" in problem.message


def test_missing_required_key_says_what_to_add(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("    key: after.id\n", "")))
    assert at(problem) == (7, 5)
    assert "has no `key`" in problem.message and "after.id" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "position", "words", "suggestion"),
    [
        ("name: OrderShipped", "name: order_shipped", (7, 11), "PascalCase", "OrderShipped"),
        ("name: OrderShipped", "name: SKU", (7, 11), "at least one lower-case letter", "Sku"),
        ("name: OrderShipped", "name: A1", (7, 11), "at least one lower-case letter", None),
        ("type: decimal", "type: TIMESTAMP", (13, 40), "string, integer", "timestamp"),
        ("type: decimal", "type: Decimel", (13, 40), "string, integer", "decimal"),
        ("version: 1", "version: 0", (8, 14), "1 or more", "1"),
        ("version: 1", "version: one", (8, 14), "must be an integer", None),
        ("domain: sales", "domain: Sales", (1, 9), "lower case", "sales"),
        ("table: public.orders", "table: orders", (5, 10), "schema.table", "public.orders"),
        ("    key: after.id", "    key: after.id\n    snapshot: emt", (11, 15), "skip, emit",
         "emit"),
        ("    key: after.id", "    key: after.id\n    on_unknown: nul", (11, 17), "error, skip",
         "null"),
        ("type: decimal", "type: money", (13, 40), "string, integer", None),
        ("    key: after.id", "    key: after.id\n    topic: facts/sales", (11, 12),
         "not a valid Kafka topic", "facts.sales.OrderShipped.v1"),
        ("order_id: after.id", "order-id: after.id", (12, 7), "field name", None),
        ("order_id: after.id", "order_id: [after.id]", (12, 17), "SQL expression", None),
    ],
)
def test_each_wrong_value_is_one_problem_at_its_place(
    tmp_path: Path, old: str, new: str, position: tuple[int, int], words: str,
    suggestion: str | None,
) -> None:
    assert old in VALID
    problem = only(problems_of(tmp_path, VALID.replace(old, new)))
    assert at(problem) == position, str(problem)
    assert words in problem.message
    assert problem.suggestion == suggestion


@pytest.mark.parametrize(("written", "meant"), [
    ("float", "number"), ("numeric", "decimal"), ("datetime", "timestamp"), ("TEXT", "string"),
])
def test_a_type_named_as_in_sql_suggests_the_field_type_that_keeps_its_values(
    tmp_path: Path, written: str, meant: str
) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("type: decimal", f"type: {written}")))
    assert problem.suggestion == meant


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    bad = VALID.replace("domain: sales", "domain: Sales").replace("version: 1", "version: 0")
    write(tmp_path, "a.yaml", bad)
    write(tmp_path, "b.yaml", VALID.replace("occurred", "x").replace("table: public.orders",
                                                                     "table: orders"))
    with pytest.raises(MappingError) as caught:
        load_mappings([tmp_path])
    problems = caught.value.problems
    assert [(Path(p.file).name, p.line) for p in problems] == [
        ("a.yaml", 1), ("a.yaml", 8), ("b.yaml", 5)]
    assert "(and 2 more)" in caught.value.message


def test_yaml_syntax_error_has_its_position(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("data:", "data: [")))
    assert problem.message.startswith("YAML syntax error") and problem.line >= 11


SYNTAX_ERRORS = [
    pytest.param(  # a tab in the indentation
        VALID.replace("  table:", "\ttable:"), (5, 1),
        "found character '\\t' that cannot start any token; indent with spaces, not tabs", None,
        id="tab-indentation"),
    pytest.param(  # a tab after a key: the column counts the tab as one character
        VALID.replace("key: after.id", "key:\tafter.id"), (10, 9),
        "found character '\\t' that cannot start any token; use spaces, not tabs",
        "    key: after.id", id="tab-after-key"),
    pytest.param(
        VALID.replace("owner: sales-data-team", "owner: sales: data team"), (2, 13),
        "mapping values are not allowed here; quote the value: unquoted, a `: ` inside it "
        "starts a key", 'owner: "sales: data team"', id="colon-in-value"),
    pytest.param(
        VALID.replace("    version: 1", "    version:1"), (9, 5),
        "could not find expected ':'; put a space after the colon on line 8: `version: 1`",
        None, id="no-space-after-colon"),
    pytest.param(
        VALID.replace("    version: 1", "    version"), (9, 5),
        "could not find expected ':'; line 8 is neither `key: value` nor a `- ` item: add the "
        "`: `, or indent it deeper to continue the value above it", None, id="no-colon"),
    pytest.param(
        VALID.replace("  connector: legacy-shop", "  connector:legacy-shop"), (5, 8),
        "mapping values are not allowed here; put a space after the colon on line 4: "
        "`connector: legacy-shop`", None, id="no-space-after-colon-above-a-key"),
    pytest.param(
        VALID.replace("    when: op = 'u' AND after.status = 'shipped'",
                      "    when: 'u' = op"), (9, 15),
        "expected <block end>, but found '<scalar>'; a value that starts with `'` ends where "
        "it closes: quote the whole value", "    when: \"'u' = op\"", id="quoted-start"),
    pytest.param(
        VALID.replace("order_id: after.id", "order_id: [after.id"), (13, 12),
        "expected ',' or ']', but got ':'; the `[` opened at line 12, column 17 is not "
        "closed: end the list with `]`", None, id="unclosed-list"),
    pytest.param(
        VALID.replace("{expr: after.total,", "{expr: after.total,").replace(
            "nullable: false}", "nullable: false"), (14, 1),
        "expected ',' or '}', but got '<stream end>'; the `{` opened at line 13, column 14 "
        "is not closed: end the mapping with `}`", None, id="unclosed-mapping"),
    pytest.param(
        VALID.replace("key: after.id", 'key: "after.id'), (14, 1),
        'found unexpected end of stream; the `"` opened at line 10, column 10 is not closed: '
        'end the value with `"`', None, id="unclosed-quote"),
    pytest.param(
        VALID.replace("key: after.id", "key: *id"), (10, 10),
        "found undefined alias 'id'; a value that starts with `*` (an alias) or `&` "
        "(an anchor) must be quoted", '    key: "*id"', id="undefined-alias"),
    pytest.param(
        VALID.replace("    key: after.id", "   key: after.id"), (10, 4),
        "expected <block end>, but found '<block mapping start>'; bad indentation: indent "
        "this line with spaces to the column of the keys or `- ` items it belongs with "
        "(the `- ` item at line 7, column 3 holds keys at column 5)", None, id="bad-indentation"),
    pytest.param(
        VALID.replace("owner: sales-data-team", "owner: sales\x07"), (2, 13),
        "control character U+0007 is not allowed in YAML; remove it, or write it as the "
        "escape `\\x07` inside double quotes", None, id="control-character"),
]


@pytest.mark.parametrize(("text", "position", "message", "suggestion"), SYNTAX_ERRORS)
def test_yaml_syntax_error_says_what_to_do(
    tmp_path: Path, text: str, position: tuple[int, int], message: str, suggestion: str | None
) -> None:
    problem = only(problems_of(tmp_path, text))
    assert (at(problem), problem.message, problem.suggestion) == (
        position, f"YAML syntax error: {message}", suggestion)


def test_duplicate_data_field_is_a_problem(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID + "      order_id: after.other\n"))
    assert at(problem) == (14, 7) and "duplicate key `order_id`" in problem.message


def test_expression_errors_point_into_the_file(tmp_path: Path) -> None:
    text = VALID.replace("when: op = 'u' AND after.status = 'shipped'",
                         "when: |\n      op = 'u'\n        AND aftr.status = 'shipped'")
    problem = only(problems_of(tmp_path, text))
    assert at(problem) == (11, 13)
    assert problem.message.startswith("`when` of fact `OrderShipped`: ")


def test_each_problem_of_one_expression_is_its_own_problem_in_the_file(tmp_path: Path) -> None:
    text = VALID.replace("when: op = 'u' AND after.status = 'shipped'",
                         "when: op = 'u' AND aftr.status = 'shipped' AND frob(after.x)")
    errors = [p for p in problems_of(tmp_path, text) if p.severity == "error"]
    assert [(at(p), p.fragment) for p in errors] == [((9, 24), "aftr.status"),
                                                     ((9, 52), "frob(after.x)")]
    assert all(p.message.startswith("`when` of fact `OrderShipped`: ") for p in errors)


def test_when_must_be_a_condition(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace(
        "when: op = 'u' AND after.status = 'shipped'", "when: after.total * 2")))
    assert at(problem) == (9, 11)
    assert "must be a condition" in problem.message and "is a number" in problem.message


@pytest.mark.parametrize(("when", "kind"), [("length(after.status)", "of type integer"),
                                            ("sign(after.total::int)", "of type double precision"),
                                            ("after.doc -> 'active'", "of type json")])
def test_when_of_a_known_type_other_than_boolean_is_refused(
    tmp_path: Path, when: str, kind: str
) -> None:
    problem = only(problems_of(tmp_path, VALID.replace(
        "when: op = 'u' AND after.status = 'shipped'", f"when: {when}")))
    assert "must be a condition" in problem.message and kind in problem.message


def test_bare_word_hints_at_quoting(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("order_id: after.id", "currency: EUR")))
    assert "quote it in SQL" in problem.message and "'EUR'" in problem.message


def test_same_fact_type_twice_is_an_error_at_both_places(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "b.yaml", VALID.replace("public.orders", "public.archive"))
    problems = validate_mappings([tmp_path])
    assert [(Path(p.file).name, at(p)) for p in problems] == [
        ("a.yaml", (7, 11)), ("b.yaml", (7, 11))]
    assert all("sales.OrderShipped.v1" in p.message for p in problems)
    assert "b.yaml:7:11" in problems[0].message


def test_keys_only_before_image_forbids_non_key_before_columns(tmp_path: Path) -> None:
    text = VALID.replace("  table: public.orders", "  table: public.orders\n"
                         "  before_image: keys\n  key: [id]").replace(
        "AND after.status", "AND before.status <> after.status AND after.status")
    problem = only(problems_of(tmp_path, text))
    assert at(problem) == (11, 24) and problem.fragment == "before.status"
    assert "OrderShipped" in problem.message and "before_image: keys" in problem.message


def test_keys_only_without_declared_key_rejects_before_columns(tmp_path: Path) -> None:
    text = VALID.replace("  table: public.orders", "  table: public.orders\n"
                         "  before_image: keys")
    text = text.replace("AND after.status", "AND before.status <> 'x' AND after.status")
    problem = only(problems_of(tmp_path, text))
    assert problem.severity == "error" and problem.fragment == "before.status"
    assert "declares no key" in problem.message and "`key: [status]`" in problem.message
    assert problem.suggestion == "after.status"
    with pytest.raises(MappingError, match="before.status"):
        load_mappings([tmp_path / "m.yaml"])


def test_reading_key_columns_of_a_keys_only_before_image_is_fine(tmp_path: Path) -> None:
    text = VALID.replace("  table: public.orders", "  table: public.orders\n"
                         "  before_image: keys\n  key: id").replace(
        "key: after.id", "key: before.id")
    assert problems_of(tmp_path, text) == []


EXAMPLES = VALID + """\
examples:
  - description: ships
    change: {op: u, before: {id: 7, status: paid}, after: {id: 7, status: shipped, total: 1}}
    expect:
      - {type: sales.OrderShiped.v1, key: "7"}
      - {type: sales.OrderShipped.v1, data: {order_id: 7, totl: 1}}
      - {typ: x}
  - description: bad op
    change: {op: x}
    expect: []
"""


def test_examples_are_checked(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, EXAMPLES)
    assert [(at(p), p.suggestion) for p in problems] == [
        ((18, 16), "sales.OrderShipped.v1"),
        ((19, 46), None),
        ((19, 59), "total"),
        ((20, 10), "type"),
        ((22, 18), None),
    ], [str(p) for p in problems]
    assert "misses `total`" in problems[1].message
    assert "must be one of c, u, d, r, t" in problems[4].message


@pytest.mark.parametrize(("change", "at_", "message"), [
    ("{op: c, before: {id: 7}, after: {id: 7}}", (16, 21),
     "is an insert (op c), which has no `before` image"),
    ("{op: r, before: {id: 7}, after: {id: 7}}", (16, 21),
     "is a snapshot read (op r), which has no `before` image"),
    ("{op: d, before: {id: 7}, after: {id: 7}}", (16, 38),
     "is a delete (op d), which has no `after` image"),
    ("{op: t, before: {id: 7}}", (16, 21), "is a truncate (op t), which has no `before`"),
    ("{op: t, after: {id: 7}}", (16, 21), "is a truncate (op t), which has no `after`"),
    ("{op: c, before: null}", (16, 5), "is an insert (op c), which always has an `after`"),
    ("{op: u, before: {id: 7}, after: null}", (16, 5),
     "is an update (op u), which always has an `after` image: add `after`"),
    ("{op: r}", (16, 5), "is a snapshot read (op r), which always has an `after`"),
    ("{op: c, after: {id: 7}, source: {name: [shop]}}", (16, 52),
     "`source.name` of the change of example #1 must be a single value"),
    ("{op: c, after: {id: 7}, ts_ms: 100000000000000000}", (16, 44),
     "`ts_ms` of the change of example #1 must be epoch milliseconds of the years 1 to 9999"),
    ("{op: c, after: {id: 7}, source: {ts_ms: -99999999999999999}}", (16, 53),
     "`source.ts_ms` of the change of example #1 must be epoch milliseconds"),
])
def test_examples_of_changes_debezium_never_writes_are_problems(
    tmp_path: Path, change: str, at_: tuple[int, int], message: str
) -> None:
    text = VALID + f"""\
examples:
  - description: impossible
    change: {change}
    expect: []
"""
    problem = only(problems_of(tmp_path, text))
    assert at(problem) == at_ and message in problem.message, str(problem)


@pytest.mark.parametrize("change", [
    "{op: c, before: null, after: {id: 7}}", "{op: r, after: {id: 7}}",
    "{op: u, after: {id: 7}}", "{op: d, before: {id: 7}}", "{op: d}",
    "{op: d, before: {id: 7}, after: null}", "{op: t}", "{op: t, before: null, after: null}",
])
def test_examples_of_changes_debezium_writes_are_fine(tmp_path: Path, change: str) -> None:
    text = VALID + f"""\
examples:
  - description: possible
    change: {change}
    expect: []
"""
    assert problems_of(tmp_path, text) == []


def test_examples_are_loaded_as_plain_data(tmp_path: Path) -> None:
    text = EXAMPLES.split("      - {type: sales.OrderShiped")[0] + (
        "      - {type: sales.OrderShipped.v1, key: '7'}\n")
    (mapping,) = load_mappings([write(tmp_path, "m.yaml", text)]).mappings
    (example,) = mapping.examples
    assert example.change == {"op": "u", "before": {"id": 7, "status": "paid"},
                              "after": {"id": 7, "status": "shipped", "total": 1}}
    assert example.expect[0].attributes == {"type": "sales.OrderShipped.v1", "key": "7"}
    assert example.line == 15


def test_before_image_must_agree_across_files_over_one_table(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "b.yaml", VALID.replace("OrderShipped", "OrderPaid").replace(
        "  table: public.orders", "  table: public.orders\n  before_image: keys"))
    (problem,) = validate_mappings([tmp_path])
    assert Path(problem.file).name == "b.yaml" and "disagrees" in problem.message
    assert (at(problem), problem.fragment) == ((6, 3), "before_image")  # not 1:1
    write(tmp_path, "a.yaml", VALID.replace(
        "  table: public.orders", "  table: public.orders\n  before_image: keys"))
    write(tmp_path, "b.yaml", VALID.replace("OrderShipped", "OrderPaid"))
    (problem,) = validate_mappings([tmp_path])  # b.yaml leaves it out: full
    assert Path(problem.file).name == "b.yaml" and at(problem) == (3, 1)
    assert "`before_image: full` for public.orders disagrees with `before_image: keys`" in (
        problem.message) and "leaves `before_image` out" in problem.message


def test_declared_key_columns_must_agree_across_files_over_one_table(tmp_path: Path) -> None:
    """The translator reads a table's before image by one key: a second file's other key
    would be ignored at run time, so it is an error where the later file declares it."""
    write(tmp_path, "a.yaml", VALID.replace(
        "  table: public.orders", "  table: public.orders\n  key: [id]"))
    write(tmp_path, "b.yaml", VALID.replace("OrderShipped", "OrderPaid").replace(
        "  table: public.orders", "  table: public.orders\n  key: [id, region]"))
    write(tmp_path, "c.yaml", VALID.replace("OrderShipped", "OrderSeen"))  # no key: fine
    (problem,) = validate_mappings([tmp_path])
    assert Path(problem.file).name == "b.yaml"
    assert (at(problem), problem.fragment) == ((6, 3), "key")
    assert problem.message.startswith(
        "`key: [id, region]` for public.orders disagrees with `key: [id]` in ")
    assert "declare the same columns in every file over the table" in problem.message
    write(tmp_path, "b.yaml", VALID.replace("OrderShipped", "OrderPaid").replace(
        "  table: public.orders", "  table: public.orders\n  key: id"))
    assert validate_mappings([tmp_path]) == []  # the same key, written another way


def test_empty_file_and_non_mapping_file(tmp_path: Path) -> None:
    assert only(problems_of(tmp_path, "")).message == "the file is empty"
    assert "must be a mapping" in only(problems_of(tmp_path, "- a\n- b\n")).message


def test_a_file_that_is_not_utf8_is_a_problem_where_the_bad_byte_is(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(VALID.replace("sales-data-team", "caf\u00e9 team").encode("latin-1"))
    problem = only(validate_mappings([path]))
    assert at(problem) == (2, 11)
    assert "not UTF-8" in problem.message and "byte 0xe9" in problem.message


def test_a_problem_in_a_field_merged_in_is_where_the_anchor_writes_it(tmp_path: Path) -> None:
    text = VALID.replace("  - name: OrderShipped\n", "  - &shipped\n    name: OrderShipped\n"
                         ).replace("after.status = 'shipped'", "aftr.status = 'shipped'") + (
        "  - <<: *shipped\n    name: OrderSent\n")
    problems = problems_of(tmp_path, text)
    assert [at(p) for p in problems] == [(10, 24), (10, 24)]  # once per fact, in `&shipped`
    assert all("aftr.status" in p.message for p in problems)

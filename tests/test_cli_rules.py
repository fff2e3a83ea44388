"""The offline rule commands: validate, test, translate, explain, contracts."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdc_facts.cli import cli

MAPPINGS = Path(__file__).resolve().parent.parent / "mappings"

ORDERS = """\
domain: sales
owner: sales-data-team
source: {connector: legacy-shop, table: public.orders}
facts:
  - name: OrderShipped
    version: 1
    when: op = 'u' AND before.status IS DISTINCT FROM 'shipped' AND after.status = 'shipped'
    key: after.id
    data:
      order_id: {expr: after.id, type: integer}
      total: {expr: after.total, type: decimal, nullable: false}
examples:
  - description: shipping
    change: {op: u, before: {id: 7, status: paid}, after: {id: 7, status: shipped, total: "1.50"}}
    expect:
      - {type: sales.OrderShipped.v1, key: "7", data: {order_id: 7, total: "1.50"}}
"""


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.yaml"
    path.write_text(ORDERS)
    return path


def record(op: str, before: dict[str, object] | None, after: dict[str, object] | None,
           table: str = "orders", offset: int = 0) -> str:
    value = {"op": op, "before": before, "after": after, "ts_ms": 1,
             "source": {"name": "legacy-shop", "schema": "public", "table": table, "lsn": 9,
                        "ts_ms": 1714557600000}}
    return json.dumps({"topic": f"legacy-shop.public.{table}", "partition": 0, "offset": offset,
                       "key": {"id": 7}, "value": value})


def test_the_demo_mappings_validate_without_a_warning() -> None:
    code, out, _ = run("validate", "--strict", str(MAPPINGS))
    assert code == 0, out
    assert "✓ 4 file(s), 15 rule(s), 15 fact type(s) over 4 table(s)\n" in out


def test_the_demo_examples_pass() -> None:
    code, out, _ = run("test", str(MAPPINGS))
    assert code == 0, out
    assert "20 example(s), 20 passed" in out


def test_validate_shows_position_underline_and_suggestion(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(ORDERS.replace("    key: after.id", "    key: after.id\n"
                                  "    occured_at: after.shipped_at"))
    code, out, _ = run("validate", str(bad))
    assert code == 1
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if f"{bad}:9:5: error: unknown key" in line)
    assert lines[start + 1] == "    9 |     occured_at: after.shipped_at"
    assert lines[start + 2] == "      |     ^^^^^^^^^^"
    assert lines[start + 3] == "    did you mean `occurred_at`?"
    assert "✗ 1 error(s) in 1 file(s)" in out


def test_validate_underlines_a_yaml_syntax_error_after_a_tab(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(ORDERS.replace("    key: after.id", "    key: [after.id,\tx] y"))
    code, out, _ = run("validate", str(bad))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == (f"{bad}:8:24: error: YAML syntax error: expected <block end>, but found "
                        "'<scalar>'; a value that starts with `[` ends where it closes: quote "
                        "the whole value")
    assert lines[1:3] == ["    8 |     key: [after.id,     x] y",  # the tab shown as spaces
                          "      | " + " " * 27 + "^"]
    assert lines[3] == '    did you mean `    key: "[after.id,\\tx] y"`?'


def test_validate_suggests_spaces_for_a_tab_in_the_indentation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(ORDERS.replace("    key: after.id", "\tkey: after.id"))
    code, out, _ = run("validate", str(bad))
    assert code == 1
    assert out.splitlines()[:3] == [
        f"{bad}:8:1: error: YAML syntax error: found character '\\t' that cannot start any "
        "token; indent with spaces, not tabs",
        "    8 |         key: after.id",
        "      | ^^^^^^^^",
    ]


def test_validate_reports_expression_errors_inside_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(ORDERS.replace("AND after.status = 'shipped'", "AND aftr.status = 'shipped'"))
    code, out, _ = run("validate", str(bad))
    assert code == 1
    assert f"{bad}:7:" in out and "aftr" in out and "did you mean `after.status`?" in out


def test_validate_shows_the_line_of_a_byte_that_is_not_utf8(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(ORDERS.replace("sales-data-team", "caf\u00e9").encode("latin-1"))
    code, out, _ = run("validate", str(bad))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"{bad}:2:11: error: the file is not UTF-8")
    assert lines[1:3] == ["    2 | owner: caf\ufffd", "      |           ^"]


def test_test_shows_a_diff_when_an_example_fails(orders: Path) -> None:
    orders.write_text(ORDERS.replace('data: {order_id: 7, total: "1.50"}',
                                     'data: {order_id: 7, total: "2.50"}'))
    code, out, _ = run("test", str(orders))
    assert code == 1
    assert "✗" in out and "shipping" in out
    assert "- " in out and "+ " in out and "data" in out
    assert "1 example(s), 0 passed, 1 failed" in out


def test_test_diff_shows_values_as_json_writes_them(orders: Path) -> None:
    orders.write_text(ORDERS.replace("total: {expr: after.total, type: decimal, nullable: false}",
                                     "total: {expr: after.total, type: decimal, nullable: false}\n"
                                     "      paid: {expr: before.status = 'paid', type: boolean}\n"
                                     "      at: {expr: source.ts_ms, type: timestamp}")
                      .replace('data: {order_id: 7, total: "1.50"}',
                               'data: {order_id: 7, total: "1.50", paid: false,'
                               ' at: "2024-01-01T00:00:01Z"}'))
    code, out, _ = run("test", str(orders))
    assert code == 1
    assert "- false" in out and "+ true" in out
    assert '- "2024-01-01T00:00:01Z"' in out and '+ "2024-01-01T00:00:00Z"' in out


def test_test_diff_tells_apart_what_text_and_json_values_would_hide(orders: Path) -> None:
    orders.write_text(ORDERS.replace("total: {expr: after.total, type: decimal, nullable: false}",
                                     "total: {expr: after.total, type: decimal, nullable: false}\n"
                                     "      carrier: after.carrier\n"
                                     "      note: after.note\n"
                                     "      n: after.n")
                      .replace('status: shipped, total: "1.50"',
                               'status: shipped, total: "1.50", carrier: "DHL ", note: null, '
                               'n: "7"')
                      .replace('data: {order_id: 7, total: "1.50"}',
                               'data: {order_id: 7, total: "1.50", carrier: DHL, note: "null",'
                               ' n: 7}'))
    code, out, _ = run("test", str(orders))
    assert code == 1
    rows = [re.split(r" {2,}", line.strip()) for line in out.splitlines()
            if line.strip().startswith("#1")]
    assert rows == [["#1", "data.carrier", '- "DHL"', '+ "DHL "'],  # strings quoted
                    ["#1", "data.note", '- "null"', "+ null"],
                    ["#1", "data.n", "- 7", '+ "7"']]


def test_test_diff_shows_long_values_whole(orders: Path) -> None:
    digits = "1234567890" * 8
    orders.write_text(ORDERS.replace('status: shipped, total: "1.50"', f'status: shipped, '
                                     f'total: "{digits}.5"')
                      .replace('order_id: 7, total: "1.50"', f'order_id: 7, total: "{digits}.4"'))
    code, out, _ = run("test", str(orders))
    assert code == 1 and "data.total" in out
    assert "…" not in out


def test_test_shows_the_error_of_a_failing_translation(orders: Path) -> None:
    orders.write_text(ORDERS.replace("before: {id: 7, status: paid}, ", ""))
    code, out, _ = run("test", str(orders))
    assert code == 1 and "UnknownValueError" in out and "before.status" in out


@pytest.mark.parametrize("command", [
    ["test"], ["translate", "-m"], ["explain", "--change", "{change}", "-m"], ["contracts", "-m"]])
def test_invalid_mappings_show_each_problem_once_as_validate_does(
    tmp_path: Path, command: list[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(ORDERS.replace("version: 1", "version: 0").replace("domain: sales",
                                                                      "domain: Sales"))
    change = tmp_path / "change.json"
    change.write_text(record("u", {"id": 7}, {"id": 7}))
    args = [arg.replace("{change}", str(change)) for arg in command]
    _, validated, _ = run("validate", str(bad))
    code, out, err = run(*args, str(bad), input="")
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[:-1] == validated.splitlines()[:-1]  # every problem, each once, as validate
    assert [line for line in lines if "1 or more" in line] == [
        f"{bad}:6:14: error: `version` of fact `OrderShipped` must be 1 or more, got 0"]
    assert lines[-1] == "MappingError: 2 error(s) in 1 mapping file(s); fix them and run again"


def test_translate_writes_facts_and_failures(orders: Path, tmp_path: Path) -> None:
    lines = "\n".join([
        record("u", {"id": 7, "status": "paid"}, {"id": 7, "status": "shipped", "total": "1.5"}),
        record("u", {"id": 7, "status": "paid"}, {"id": 7, "status": "paid"}, offset=1),
        record("c", None, {"id": 1}, table="customers", offset=2),
        "not json",
        json.dumps({"topic": "legacy-shop.public.orders", "key": {"id": 7}, "value": None}),
    ]) + "\n"
    code, out, err = run("translate", "--mappings", str(orders), input=lines)
    assert code == 0
    (fact,) = [json.loads(line) for line in out.splitlines()]
    assert fact["topic"] == "facts.sales.OrderShipped.v1" and fact["key"] == "7"
    assert fact["value"]["type"] == "sales.OrderShipped.v1"
    assert fact["value"]["data"] == {"order_id": 7, "total": "1.5"}
    failures = [json.loads(line) for line in err.splitlines()]
    assert [(f["line"], f["reason"]) for f in failures] == [
        (3, "unknown-table"), (4, "undecodable")]
    assert failures[0]["offset"] == 2 and failures[0]["error"] == "UnknownTableError"


def test_translate_failures_carry_their_records_to_replay(orders: Path, tmp_path: Path) -> None:
    shipped = record("u", {"id": 7, "status": "paid"},
                     {"id": 7, "status": "shipped", "total": None}, offset=4)
    bare = json.loads(shipped)["value"]
    bare["after"]["id"] = 8
    dead = tmp_path / "dead.jsonl"
    lines = [shipped, json.dumps(bare), "not json"]
    code, out, _ = run("translate", "-m", str(orders), "--dead-letter", str(dead),
                       input="\n".join(lines) + "\n")
    assert code == 0 and out == ""  # a null total breaks `nullable: false`
    failures = [json.loads(line) for line in dead.read_text().splitlines()]
    assert [(f["line"], f["input"]) for f in failures] == [
        (1, json.loads(shipped)), (2, {"value": bare}), (3, {"value": "not json"})]

    orders.write_text(ORDERS.replace("nullable: false", "nullable: true"))
    replay = "".join(json.dumps(f["input"]) + "\n" for f in failures)
    code, out, err = run("translate", "-m", str(orders), input=replay)
    assert code == 0
    facts = [json.loads(line) for line in out.splitlines()]
    assert [(f["key"], f["value"]["data"]) for f in facts] == [
        ("7", {"order_id": 7, "total": None}), ("8", {"order_id": 8, "total": None})]
    (again,) = [json.loads(line) for line in err.splitlines()]
    assert (again["line"], again["reason"]) == (3, "undecodable")
    assert again["input"] == failures[2]["input"]


def test_translate_strict_and_dead_letter(orders: Path, tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    source = tmp_path / "in.jsonl"
    source.write_text(record("c", None, {"id": 1}, table="customers") + "\n")
    code, out, err = run("translate", "-m", str(orders), "--input", str(source),
                         "--dead-letter", str(dead), "--strict")
    assert code == 1 and out == ""
    assert json.loads(dead.read_text())["reason"] == "unknown-table"
    assert "1 record(s) failed" in err


def test_translate_accepts_bare_debezium_values(orders: Path) -> None:
    value = json.loads(record("u", {"id": 7, "status": "x"},
                              {"id": 7, "status": "shipped", "total": 2}))["value"]
    code, out, _ = run("translate", "-m", str(orders), input=json.dumps(value) + "\n")
    assert code == 0 and json.loads(out)["value"]["data"]["total"] == "2"


def test_translate_reports_every_line_that_is_not_a_change_object(orders: Path) -> None:
    shipped = record("u", {"id": 7, "status": "paid"}, {"id": 7, "status": "shipped", "total": 1})
    lines = ["[1, 2]", "5", '"text"', "true", shipped, '{"value": [1]}', "null", shipped]
    code, out, err = run("translate", "-m", str(orders), input="\n".join(lines) + "\n")
    assert code == 0
    assert len(out.splitlines()) == 2
    failures = [json.loads(line) for line in err.splitlines()]
    assert [(f["line"], f["reason"]) for f in failures] == [
        (1, "undecodable"), (2, "undecodable"), (3, "undecodable"), (4, "undecodable"),
        (6, "undecodable")]
    assert [f["message"] for f in failures[:4]] == [
        f"record value is a JSON {kind}, not an object"
        for kind in ("array", "number", "string", "boolean")]


def test_translate_reads_a_first_line_with_a_byte_order_mark(orders: Path) -> None:
    shipped = record("u", {"id": 7, "status": "paid"}, {"id": 7, "status": "shipped", "total": 1})
    code, out, err = run("translate", "-m", str(orders), input=f"\ufeff{shipped}\r\n")
    assert code == 0 and err == ""
    assert json.loads(out)["value"]["type"] == "sales.OrderShipped.v1"


def test_translate_help_says_the_dead_letter_file_holds_failures_with_their_records() -> None:
    code, out, _ = run("translate", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "failed record" in text and "under `input` the record itself" in text


def test_translate_with_invalid_mappings_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("domain: [")
    code, _, err = run("translate", "-m", str(bad), input="")
    assert code == 1 and "MappingError" in err and "YAML syntax error" in err


def test_explain_shows_each_rule_and_sub_expression(orders: Path, tmp_path: Path) -> None:
    change = tmp_path / "change.json"
    change.write_text(record("u", {"id": 7, "status": "paid"},
                             {"id": 7, "status": "shipped", "total": "1"}))
    code, out, _ = run("explain", "-m", str(orders), "--change", str(change))
    assert code == 0
    assert "sales.OrderShipped.v1: matched" in out
    assert "after.status = 'shipped' → TRUE" in out
    assert "before.status → 'paid'" in out
    assert '"total": "1"' in out


def test_explain_says_unknown_and_not_matched(orders: Path, tmp_path: Path) -> None:
    change = tmp_path / "change.json"
    change.write_text(record("u", None, {"id": 7, "status": "shipped", "total": "1"}))
    code, out, _ = run("explain", "-m", str(orders), "--change", str(change))
    assert code == 0 and "unknown" in out and "on_unknown: error" in out
    change.write_text(record("u", {"id": 7, "status": "shipped"}, {"id": 7, "status": "shipped"}))
    assert "not matched" in run("explain", "-m", str(orders), "--change", str(change))[1]


def flat(tree: str) -> str:
    """A tree printed by rich as one line: its wrapping and guide lines gone."""
    return " ".join(tree.replace("│", " ").split())


RATIO = ORDERS.split("examples:")[0] + """\
  - name: OrderRatio
    version: 1
    when: op = 'u' AND after.qty / after.lines > 1
    key: after.id
  - name: OrderTouched
    version: 1
    when: op = 'u'
    key: after.id
"""


def test_explain_shows_the_tree_when_a_when_fails(tmp_path: Path) -> None:
    mappings = tmp_path / "orders.yaml"
    mappings.write_text(RATIO)
    change = tmp_path / "change.json"
    change.write_text(record("u", {"id": 7, "status": "paid"},
                             {"id": 7, "status": "paid", "qty": 4, "lines": 0}))
    code, out, _ = run("explain", "-m", str(mappings), "--change", str(change))
    assert code == 0  # as for any change explained: the outcome is the output
    text = flat(out)
    assert ("sales.OrderRatio.v1: failed: cannot evaluate `after.qty / after.lines`: "
            "division by zero") in text
    assert "after.qty / after.lines → ERROR: cannot evaluate" in text
    assert "after.lines → 0" in text
    assert "sales.OrderShipped.v1: not matched" in text  # the other rules are shown too
    assert "sales.OrderTouched.v1: matched" in text
    assert text.endswith("EvaluationError: rule sales.OrderRatio.v1: cannot evaluate "
                         "`after.qty / after.lines`: division by zero")


def test_explain_marks_a_when_that_is_no_condition_as_failing(tmp_path: Path) -> None:
    mappings = tmp_path / "orders.yaml"
    mappings.write_text(RATIO.replace("when: op = 'u'\n", "when: after.qty\n"))
    change = tmp_path / "change.json"
    change.write_text(record("u", {"id": 7}, {"id": 7, "qty": 4, "lines": 1}))
    code, out, _ = run("explain", "-m", str(mappings), "--change", str(change))
    text = flat(out)
    assert code == 0
    assert ("sales.OrderTouched.v1: failed: cannot evaluate `after.qty`: argument of WHEN "
            "must be boolean, not integer 4") in text
    assert "sales.OrderRatio.v1: matched" in text


SKIPPING = ORDERS.split("examples:")[0].replace(
    "    key: after.id\n", "    key: after.id\n    on_unknown: skip\n"
    "    occurred_at: after.shipped_at\n") + "      old: before.status\n"


@pytest.mark.parametrize(("before", "after", "verdict"), [
    ({"id": 7, "status": "paid", "total": "1"},
     {"id": 7, "status": "shipped", "total": "__debezium_unavailable_value"},
     "matched, skipped: data field `total` depends on after.total (unknown; on_unknown: skip)"),
    ({"id": 7, "status": "paid"}, {"id": 7, "status": "shipped", "total": "1",
                                   "shipped_at": "__debezium_unavailable_value"},
     "matched, skipped: `occurred_at` depends on after.shipped_at (unknown; "
     "on_unknown: skip)"),
    (None, {"id": 7, "status": "shipped", "total": "1"},
     "unknown (on_unknown: skip)"),
])
def test_explain_says_why_a_matching_rule_was_skipped(
    tmp_path: Path, before: dict[str, object] | None, after: dict[str, object], verdict: str
) -> None:
    mappings = tmp_path / "orders.yaml"
    mappings.write_text(SKIPPING)
    change = tmp_path / "change.json"
    change.write_text(record("u", before, after))
    code, out, _ = run("explain", "-m", str(mappings), "--change", str(change))
    assert code == 0
    text = flat(out)
    assert f"sales.OrderShipped.v1: {verdict}" in text
    assert "fact key=" not in text


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "record value is not JSON"),
    ("[1, 2]", "record value is a JSON array, not an object"),
])
def test_explain_rejects_a_change_that_is_not_a_json_object(
    orders: Path, tmp_path: Path, text: str, message: str
) -> None:
    change = tmp_path / "change.json"
    change.write_text(text)
    code, out, err = run("explain", "-m", str(orders), "--change", str(change))
    assert code == 1 and out == ""
    assert f"ChangeDecodeError: {message}" in err


def test_contracts_writes_one_schema_per_fact_type(orders: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "contracts"
    code, _, _ = run("contracts", "-m", str(orders), "--out", str(out_dir))
    assert code == 0
    schema = json.loads((out_dir / "sales.OrderShipped.v1.schema.json").read_text())
    assert schema["properties"]["type"] == {"const": "sales.OrderShipped.v1"}
    code, out, _ = run("contracts", "-m", str(orders))
    assert list(json.loads(out)) == ["sales.OrderShipped.v1"]


def test_validate_defaults_to_the_mappings_directory(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "o.yaml").write_text(textwrap.dedent(ORDERS))
    code, out, _ = run("validate")
    assert code == 0 and "1 file(s)" in out


def test_validate_warns_of_a_null_trap_at_its_place_and_still_passes(tmp_path: Path) -> None:
    path = tmp_path / "orders.yaml"
    path.write_text(ORDERS.replace("before.status IS DISTINCT FROM 'shipped'",
                                   "before.status <> 'shipped'"))
    code, out, _ = run("validate", str(path))
    assert code == 0, out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if f"{path}:7:24: warning: " in line)
    assert "`before.status <> 'shipped'` is NULL, not TRUE, when before.status is NULL" in (
        lines[start])
    assert lines[start + 1] == ("    7 |     when: op = 'u' AND before.status <> 'shipped' AND "
                                "after.status = 'shipped'")
    assert lines[start + 2] == "      |                        " + "^" * 26
    assert lines[start + 3] == "    did you mean `before.status IS DISTINCT FROM 'shipped'`?"
    assert "✓ 1 file(s), 1 rule(s), 1 fact type(s) over 1 table(s), 1 warning(s)" in out


def test_a_declared_key_column_raises_no_null_trap_warning(tmp_path: Path) -> None:
    path = tmp_path / "orders.yaml"
    path.write_text(ORDERS.replace("table: public.orders}", "table: public.orders, key: [id]}")
                    .replace("before.status IS DISTINCT FROM 'shipped'", "before.id <> 0"))
    code, out, _ = run("validate", str(path))
    assert code == 0, out
    assert "warning" not in out


def test_the_service_logs_the_warnings_of_its_mappings(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from types import SimpleNamespace

    from cdc_facts.cli.run import _translator

    path = tmp_path / "orders.yaml"
    path.write_text(ORDERS.replace("before.status IS DISTINCT FROM 'shipped'",
                                   "after.carrier NOT IN ('DHL', NULL)"))
    with caplog.at_level("WARNING", logger="cdc_facts.run"):
        translator = _translator(SimpleNamespace(mappings=[path]))  # type: ignore[arg-type]
    assert translator.tables() == {("legacy-shop", "public.orders")}
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}:7:24: `when` of fact `OrderShipped`: `after.carrier NOT IN ('DHL', NULL)` is "
        "never true: with NULL in the list, a value that is not in it gives NULL, not TRUE; "
        "leave NULL out of the list (did you mean `after.carrier NOT IN ('DHL')`?)"]


def test_validate_strict_fails_on_a_warning_and_passes_without_one(tmp_path: Path) -> None:
    trapped = tmp_path / "trapped.yaml"
    trapped.write_text(ORDERS.replace("before.status IS DISTINCT FROM 'shipped'",
                                      "before.status <> 'shipped'"))
    code, out, _ = run("validate", "--strict", str(trapped))
    assert code == 1
    assert f"{trapped}:7:24: warning: " in out
    assert "✗ 1 warning(s) in 1 file(s), and --strict" in out
    clean = tmp_path / "clean.yaml"
    clean.write_text(ORDERS)
    code, out, _ = run("validate", "--strict", str(clean))
    assert code == 0, out

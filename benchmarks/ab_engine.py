"""Compare the engine of two versions on a machine whose speed drifts.

Extracts ``--base`` (a git revision) into a temporary folder, then alternates processes of
the base and of the working tree on the same generated records. Each process runs the
``engine_bench.py`` loop and orjson's ``loads`` + ``dumps`` of the same records, CPU time,
fastest of ``--repeat`` runs, and reports its engine as a multiple of that in-process
baseline: the figure that survives the machine speeding up or slowing down between
processes. Prints each process and the medians.

    .venv/bin/python benchmarks/ab_engine.py --base 14b15b3 [--pairs 7] [--records 10000]

Not a test: ``make test`` does not run it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_process(schemas: bool, records: int, repeat: int) -> dict[str, float | bool]:
    """Engine and orjson baseline, µs of CPU per record, in this process."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import orjson
    from engine_bench import _ruleset_dir, engine, generate

    from cdc_facts.rules import load_mappings
    from cdc_facts.translator import Translator

    inputs = generate(records, schemas)
    run = engine(Translator(load_mappings([_ruleset_dir()])))

    def baseline() -> None:
        for _, value, _ in inputs:
            orjson.dumps(orjson.loads(value))

    best_engine = best_base = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run(inputs)
        best_engine = min(best_engine, time.process_time() - start)
        start = time.process_time()
        baseline()
        best_base = min(best_base, time.process_time() - start)
    from cdc_facts.envelope.projection import compiled

    return {"engine_us": best_engine / records * 1e6, "orjson_us": best_base / records * 1e6,
            "compiled": compiled()}


def _spawn(tree: Path | None, schemas: bool,
           args: argparse.Namespace) -> dict[str, float | bool]:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    command = [sys.executable, __file__, "--child", "on" if schemas else "off",
               "--records", str(args.records), "--repeat", str(args.repeat)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True,
                         cwd=tempfile.gettempdir())
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _build_extensions(tree: Path) -> None:
    """Compile the C extensions of an extracted tree in place, with the flags setuptools
    uses, so that both versions run compiled (a tree without any builds nothing)."""
    for source in (tree / "cdc_facts").rglob("*.c"):
        target = source.with_name(source.stem + sysconfig.get_config_var("EXT_SUFFIX"))
        command = [*sysconfig.get_config_var("CC").split(),
                   *sysconfig.get_config_var("CFLAGS").split(), "-fPIC", "-shared",
                   f"-I{sysconfig.get_path('include')}", str(source), "-o", str(target)]
        subprocess.run(command, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", help="git revision to compare the working tree with")
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--child", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_process(args.child == "on", args.records, args.repeat)))
        return
    if not args.base:
        parser.error("--base is required")
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        archive = subprocess.run(["git", "archive", args.base], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        _build_extensions(base)
        for schemas in (False, True):
            ratios: dict[str, list[float]] = {"base": [], "tree": []}
            engines: dict[str, list[float]] = {"base": [], "tree": []}
            for _ in range(args.pairs):
                for name, tree in (("base", base), ("tree", None)):
                    found = _spawn(tree, schemas, args)
                    ratios[name].append(found["orjson_us"] / found["engine_us"])
                    engines[name].append(found["engine_us"])
                    print(f"schemas {'on' if schemas else 'off'} {name}: engine "
                          f"{found['engine_us']:.2f} µs, orjson {found['orjson_us']:.2f} µs"
                          + ("" if found["compiled"] else " (general decoder only)"),
                          file=sys.stderr)
            label = "schemas on " if schemas else "schemas off"
            for name in ("base", "tree"):
                print(f"{label} {name}: engine / orjson loads+dumps median "
                      f"{statistics.median(ratios[name]):.3f}x "
                      f"({min(ratios[name]):.3f}-{max(ratios[name]):.3f}), engine median "
                      f"{statistics.median(engines[name]):.2f} µs/change")


if __name__ == "__main__":
    main()

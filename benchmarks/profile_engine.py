"""Where the engine's time goes: CPU time per stage, on the engine benchmark's records.

Stages, each timed alone over the same records (fastest of ``--repeat`` runs):

- ``parse``: ``orjson.loads`` of the record value (the floor of any decoder);
- ``decode``: :meth:`~cdc_facts.translator.Translator.decode` (value and key, as the
  translator decodes them: only the columns the rules read, in C, when it is built);
- ``decode_general``: :func:`~cdc_facts.envelope.decode_change` (every column);
- ``translate``: :meth:`~cdc_facts.translator.Translator.translate` of decoded changes;
- ``encode``: :func:`~cdc_facts.facts.encode_fact` of the facts made;
- ``engine``: all of it, as ``engine_bench.py`` runs it.

    .venv/bin/python benchmarks/profile_engine.py [--records N] [--repeat R] [--cprofile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import _ruleset_dir, engine, generate  # noqa: E402

from cdc_facts.envelope import decode_change  # noqa: E402
from cdc_facts.facts import encode_fact  # noqa: E402
from cdc_facts.rules import load_mappings  # noqa: E402
from cdc_facts.translator import Translator  # noqa: E402


def _cpu(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)  # the least disturbed run: stages are compared, not reported


def stages(translator: Translator, records: list[Any], repeat: int) -> dict[str, float]:
    """CPU seconds per stage over ``records``."""
    settings = translator.envelope_settings
    changes = [translator.decode(v, k, t, 0, i) for i, (t, v, k) in enumerate(records)]
    facts = [f for c in changes if c is not None for f in translator.translate(c)]
    translate = translator.translate
    loads = orjson.loads

    def parse() -> None:
        for _, value, _ in records:
            loads(value)

    def decode() -> None:
        project = translator.decode
        for offset, (topic, value, key) in enumerate(records):
            project(value, key, topic, 0, offset)

    def decode_general() -> None:
        for offset, (topic, value, key) in enumerate(records):
            decode_change(value, key, topic=topic, partition=0, offset=offset, settings=settings)

    def translate_all() -> None:
        for change in changes:
            if change is not None:
                translate(change)

    def encode() -> None:
        for fact in facts:
            encode_fact(fact)

    return {
        "parse": _cpu(parse, repeat),
        "decode": _cpu(decode, repeat),
        "decode_general": _cpu(decode_general, repeat),
        "translate": _cpu(translate_all, repeat),
        "encode": _cpu(encode, repeat),
        "engine": _cpu(lambda: engine(translator)(records), repeat),
        "facts": len(facts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cprofile", action="store_true", help="cProfile the whole engine")
    args = parser.parse_args()
    translator = Translator(load_mappings([_ruleset_dir()]))
    for name, with_schema in (("schemas_off", False), ("schemas_on", True)):
        records = generate(args.records, with_schema)
        found = stages(translator, records, args.repeat)
        facts = found.pop("facts")
        print(f"{name}: {len(records)} changes, {facts} facts")
        for stage, seconds in found.items():
            per = "fact" if stage == "encode" else "change"
            count = facts if stage == "encode" else len(records)
            print(f"  {stage:<15}{seconds / count * 1e6:8.2f} µs / {per}")
        print(f"  engine    {len(records) / found['engine']:10,.0f} changes / cpu-s")
        if args.cprofile:
            profiler = cProfile.Profile()
            profiler.runcall(engine(translator), records)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()

"""``cdc-facts run`` puts what starting made out of the cyclic collector's reach, so that a
full collection during the run does not walk it (docs/service.md, Latency)."""

from __future__ import annotations

import gc

from cdc_facts.cli import run as run_cli


def test_what_exists_when_the_service_starts_is_frozen_out_of_full_collections() -> None:
    startup_object = {"a rule plan": ["made", "while", "starting"]}
    gc.unfreeze()
    try:
        assert any(obj is startup_object for obj in gc.get_objects())
        reach_before = len(gc.get_objects())

        run_cli._freeze_startup_objects()

        assert gc.get_freeze_count() >= reach_before // 2
        assert not any(obj is startup_object for obj in gc.get_objects())
        made_later = {"a change": ["made", "by", "the", "loop"]}
        assert any(obj is made_later for obj in gc.get_objects())
    finally:
        gc.unfreeze()

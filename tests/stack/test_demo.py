"""`cdc-facts demo` tells the whole legacy-shop story on the real stack."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import StackEndpoints

ROOT = Path(__file__).resolve().parents[2]


def test_demo_captures_the_shop_and_the_translator_emits_its_facts(stack: StackEndpoints) -> None:
    assert stack.home is not None, "the demo needs the stack's state dir (CDC_FACTS_HOME)"
    env = {**os.environ, "CDC_FACTS_HOME": str(stack.home), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "cdc_facts", "demo", "--project", str(ROOT)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "14 change records" in out
    expected = {"sales.OrderPlaced.v1": 2, "sales.OrderPaid.v1": 1, "sales.OrderShipped.v1": 1,
                "sales.OrderCancelled.v1": 1, "customers.CustomerRegistered.v1": 3,
                "customers.CustomerRenamed.v1": 1, "customers.CustomerDeleted.v1": 1}
    for fact_type, count in expected.items():
        assert re.search(rf"│ {re.escape(fact_type)}\s+│\s+{count} │", out), fact_type
    # the two customers that existed before capture come from the snapshot
    assert out.count("from snapshot") == 2
    # the shipped order carries its carrier into the fact
    assert '"carrier": "DHL"' in out
    # the secret of the database never shows
    assert os.environ.get("SHOP_DB_PASSWORD", "unset-secret") not in out + result.stderr

"""`cdc-facts local up --with registry`: Apicurio Registry serves its Confluent-compatible API."""

from __future__ import annotations

import json

import requests

from cdc_facts.local.settings import LocalStackSettings
from cdc_facts.local.stack import LocalStack
from tests.conftest import StackEndpoints
from tests.stack.helpers import unique


def test_registry_stores_and_serves_a_schema(stack: StackEndpoints) -> None:
    assert stack.home is not None, "the registry test needs the stack's state dir"
    local = LocalStack(LocalStackSettings.from_env(stack.home))
    local.up(["registry"], progress=lambda _msg: None)
    url = local.env()["CDC_FACTS_REGISTRY_URL"]
    assert url.endswith("/apis/ccompat/v7")

    subject = unique("facts-sales-OrderShipped-value")
    schema = {"type": "object", "properties": {"order_id": {"type": "integer"}}}
    created = requests.post(
        f"{url}/subjects/{subject}/versions",
        json={"schemaType": "JSON", "schema": json.dumps(schema)},
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"}, timeout=30,
    )
    assert created.status_code == 200, created.text
    assert isinstance(created.json()["id"], int)

    latest = requests.get(f"{url}/subjects/{subject}/versions/latest", timeout=30)
    assert latest.status_code == 200
    assert json.loads(latest.json()["schema"]) == schema
    assert subject in requests.get(f"{url}/subjects", timeout=30).json()

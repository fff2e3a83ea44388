"""Unit tests of the Connect REST client, with a handler adapter mounted on the session."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from cdc_facts.connect import ConnectClient, failure, is_running
from cdc_facts.errors import (
    ConfigError,
    ConnectorFailedError,
    ConnectRequestError,
    ConnectUnavailableError,
    TerminalError,
    TransientError,
)

BASE = "http://connect.test:8083"

Answer = tuple[int, object]
Handler = Callable[[requests.PreparedRequest], Answer]


class HandlerAdapter(BaseAdapter):
    """Answers every request with a Python handler and records what was sent."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.requests: list[requests.PreparedRequest] = []
        self.kwargs: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.requests.append(request)
        self.kwargs.append(kwargs)
        status, body = self.handler(request)
        if isinstance(body, Exception):
            raise body
        response = requests.Response()
        response.status_code = status
        response.request = request
        response.url = request.url or ""
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        if isinstance(body, bytes):
            response._content = body
        else:
            response._content = b"" if body is None else json.dumps(body).encode()
        return response

    def close(self) -> None:
        pass


def make_client(handler: Handler, **kwargs: Any) -> tuple[ConnectClient, HandlerAdapter]:
    session = requests.Session()
    adapter = HandlerAdapter(handler)
    session.mount("http://connect.test:8083/", adapter)
    kwargs.setdefault("backoff", 0.0)
    return ConnectClient(BASE + "/", session=session, **kwargs), adapter


def fixed(status: int, body: object) -> Handler:
    return lambda _request: (status, body)


def sequence(*answers: Answer) -> Handler:
    queue = list(answers)

    def handle(_request: requests.PreparedRequest) -> Answer:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handle


def sent_json(request: requests.PreparedRequest) -> Any:
    assert request.body is not None
    return json.loads(request.body)


RUNNING = {
    "name": "shop",
    "connector": {"state": "RUNNING", "worker_id": "w:8083"},
    "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "w:8083"}],
    "type": "source",
}


# --- construction ----------------------------------------------------------------------


def test_init_does_no_network() -> None:
    client = ConnectClient("http://unreachable.invalid:1")
    assert client.base_url == "http://unreachable.invalid:1"
    assert "unreachable.invalid" in repr(client)


def test_credentials_in_the_url_become_basic_auth_and_are_never_shown() -> None:
    session = requests.Session()
    adapter = HandlerAdapter(fixed(200, []))
    session.mount("http://connect.test:8083/", adapter)
    client = ConnectClient("http://admin:hunt%40er2@connect.test:8083/", session=session)
    assert client.base_url == BASE
    assert "hunt" not in repr(client) and "admin" not in repr(client)
    client.connectors()
    assert adapter.requests[0].url == BASE + "/connectors"
    sent = base64.b64encode(b"admin:hunt@er2").decode()
    assert adapter.requests[0].headers["Authorization"] == f"Basic {sent}"


def test_an_unreachable_url_with_credentials_names_the_host_only() -> None:
    client = ConnectClient("http://admin:hunter2@127.0.0.1:9", retries=0, timeout=2)
    with pytest.raises(ConnectUnavailableError) as info:
        client.connectors()
    assert "127.0.0.1:9" in str(info.value)
    assert "hunter2" not in str(info.value) and "admin" not in str(info.value)


def test_a_url_without_scheme_is_a_config_error() -> None:
    client = ConnectClient("127.0.0.1:8083", retries=3)
    with pytest.raises(ConfigError) as info:
        client.connectors()
    assert info.value.hint is not None and "--connect-url" in info.value.hint


def test_a_missing_ca_bundle_is_a_config_error() -> None:
    client = ConnectClient("https://connect.test:8083", verify="/nonexistent/ca.pem")
    with pytest.raises(ConfigError, match="cannot use the TLS files") as info:
        client.connectors()
    assert info.value.hint is not None and "--connect-ca" in info.value.hint


def test_session_is_created_lazily() -> None:
    client = ConnectClient(BASE)
    assert isinstance(client.session, requests.Session)
    assert client.session is client.session


# --- requests sent ---------------------------------------------------------------------


def test_server_info_gets_root() -> None:
    client, adapter = make_client(fixed(200, {"version": "4.1.0", "commit": "abc"}))
    assert client.server_info()["version"] == "4.1.0"
    assert adapter.requests[0].method == "GET"
    assert adapter.requests[0].url == BASE + "/"


def test_connectors_sorted() -> None:
    client, _ = make_client(fixed(200, ["b", "a"]))
    assert client.connectors() == ["a", "b"]


def test_statuses_in_one_request() -> None:
    client, adapter = make_client(fixed(200, {"b": {"status": RUNNING}, "a": {"status": {}}}))
    assert list(client.statuses().items()) == [("a", {}), ("b", RUNNING)]
    assert adapter.requests[0].url == BASE + "/connectors?expand=status"


def test_plugins_list() -> None:
    plugins = [{"class": "io.debezium.connector.postgresql.PostgresConnector", "type": "source"}]
    client, adapter = make_client(fixed(200, plugins))
    assert client.plugins() == plugins
    assert adapter.requests[0].url == BASE + "/connector-plugins"


def test_put_config_sends_config_as_json() -> None:
    config = {"connector.class": "X", "topic.prefix": "shop"}
    client, adapter = make_client(fixed(201, {"name": "shop", "config": config, "tasks": []}))
    assert client.put_config("shop", config)["name"] == "shop"
    request = adapter.requests[0]
    assert (request.method, request.url) == ("PUT", BASE + "/connectors/shop/config")
    assert sent_json(request) == config


def test_connector_name_is_quoted_in_path() -> None:
    client, adapter = make_client(fixed(200, {}))
    client.config("a b/c")
    assert adapter.requests[0].url == BASE + "/connectors/a%20b%2Fc/config"


@pytest.mark.parametrize(
    ("call", "method", "path"),
    [
        (lambda c: c.delete("shop"), "DELETE", "/connectors/shop"),
        (lambda c: c.pause("shop"), "PUT", "/connectors/shop/pause"),
        (lambda c: c.resume("shop"), "PUT", "/connectors/shop/resume"),
        (lambda c: c.stop("shop"), "PUT", "/connectors/shop/stop"),
    ],
)
def test_lifecycle_requests(
    call: Callable[[ConnectClient], object], method: str, path: str
) -> None:
    client, adapter = make_client(fixed(202, None))
    call(client)
    assert (adapter.requests[0].method, adapter.requests[0].url) == (method, BASE + path)


def test_restart_sends_flags_and_returns_status() -> None:
    client, adapter = make_client(fixed(202, RUNNING))
    assert client.restart("shop", include_tasks=True, only_failed=False) == RUNNING
    url = adapter.requests[0].url or ""
    assert adapter.requests[0].method == "POST"
    assert url.startswith(BASE + "/connectors/shop/restart?")
    assert "includeTasks=true" in url and "onlyFailed=false" in url


def test_restart_without_body_returns_none() -> None:
    client, _ = make_client(fixed(204, None))
    assert client.restart("shop") is None


def test_offsets_and_topics() -> None:
    def handle(request: requests.PreparedRequest) -> Answer:
        if (request.url or "").endswith("/offsets"):
            return 200, {"offsets": [{"partition": {"server": "shop"}, "offset": {"lsn": 7}}]}
        return 200, {"shop": {"topics": ["shop.public.orders", "shop.public.customers"]}}

    client, _ = make_client(handle)
    assert client.offsets("shop") == [{"partition": {"server": "shop"}, "offset": {"lsn": 7}}]
    assert client.topics("shop") == ["shop.public.customers", "shop.public.orders"]


def test_validate_adds_connector_class() -> None:
    answer = {"name": "X", "error_count": 0, "groups": [], "configs": []}
    client, adapter = make_client(fixed(200, answer))
    plugin = "io.debezium.connector.postgresql.PostgresConnector"
    assert client.validate(plugin, {"topic.prefix": "shop"}) == answer
    request = adapter.requests[0]
    assert request.method == "PUT"
    assert request.url == f"{BASE}/connector-plugins/{plugin}/config/validate"
    assert sent_json(request) == {"connector.class": plugin, "topic.prefix": "shop"}


def test_auth_tls_and_timeout_are_passed_to_transport() -> None:
    client, adapter = make_client(
        fixed(200, []), auth=("admin", "pw"), verify="/ca.pem", cert=("c.pem", "k.pem"), timeout=7
    )
    client.connectors()
    assert adapter.requests[0].headers["Authorization"].startswith("Basic ")
    assert adapter.kwargs[0]["verify"] == "/ca.pem"
    assert adapter.kwargs[0]["cert"] == ("c.pem", "k.pem")
    assert adapter.kwargs[0]["timeout"] == 7


def test_exists() -> None:
    client, _ = make_client(fixed(404, {"error_code": 404, "message": "Connector x not found"}))
    assert client.exists("x") is False
    client, _ = make_client(fixed(200, {"name": "x"}))
    assert client.exists("x") is True


# --- errors and retries ----------------------------------------------------------------


def test_client_error_carries_connect_message_status_and_connector() -> None:
    body = {"error_code": 400, "message": "Connector configuration is invalid"}
    client, adapter = make_client(fixed(400, body))
    with pytest.raises(ConnectRequestError) as info:
        client.put_config("shop", {})
    assert info.value.status == 400
    assert info.value.connector == "shop"
    assert "Connector configuration is invalid" in str(info.value)
    assert isinstance(info.value, TerminalError)
    assert len(adapter.requests) == 1, "client errors are not retried"


def test_409_is_retried_then_succeeds() -> None:
    rebalance = (409, {"error_code": 409, "message": "Cannot complete request: rebalance"})
    client, adapter = make_client(sequence(rebalance, rebalance, (200, ["shop"])))
    assert client.connectors() == ["shop"]
    assert len(adapter.requests) == 3


def test_5xx_exhausts_retries_as_unavailable() -> None:
    client, adapter = make_client(fixed(503, {"message": "busy"}), retries=2)
    with pytest.raises(ConnectUnavailableError) as info:
        client.connectors()
    assert info.value.status == 503
    assert "busy" in str(info.value)
    assert isinstance(info.value, TransientError)
    assert len(adapter.requests) == 3


def test_409_exhausted_is_unavailable() -> None:
    client, _ = make_client(fixed(409, {"message": "rebalance in progress"}), retries=1)
    with pytest.raises(ConnectUnavailableError) as info:
        client.put_config("shop", {})
    assert info.value.status == 409
    assert info.value.hint == "Kafka Connect is rebalancing; try again shortly"


def test_5xx_and_unreachable_have_their_own_hints() -> None:
    client, _ = make_client(fixed(500, {"message": "Request timed out"}), retries=0)
    with pytest.raises(ConnectUnavailableError) as info:
        client.connectors()
    assert info.value.hint is not None and "log" in info.value.hint
    assert "running?" not in info.value.hint
    refused = requests.ConnectionError("connection refused")
    client, _ = make_client(fixed(0, refused), retries=0)
    with pytest.raises(ConnectUnavailableError) as info:
        client.connectors()
    assert info.value.hint is not None and "running?" in info.value.hint


def test_every_retry_is_reported() -> None:
    lines: list[str] = []
    rebalance = (409, {"message": "rebalance in progress"})
    client, _ = make_client(sequence(rebalance, rebalance, (200, ["shop"])), retries=5,
                            on_retry=lines.append)
    assert client.connectors() == ["shop"]
    assert lines == [
        "GET /connectors: Kafka Connect answered GET /connectors with 409: rebalance in "
        "progress; retry 1 of 5 in 0.0s",
        "GET /connectors: Kafka Connect answered GET /connectors with 409: rebalance in "
        "progress; retry 2 of 5 in 0.0s",
    ]


def test_connection_error_is_retried_then_unavailable() -> None:
    refused = requests.ConnectionError("connection refused")
    client, adapter = make_client(fixed(0, refused), retries=1)
    with pytest.raises(ConnectUnavailableError, match="unreachable"):
        client.server_info()
    assert len(adapter.requests) == 2


def test_connection_error_then_success() -> None:
    refused = requests.ConnectionError("connection refused")
    client, _ = make_client(sequence((0, refused), (200, {"version": "4.1.0"})))
    assert client.server_info() == {"version": "4.1.0"}


def test_non_json_error_body_is_reported() -> None:
    client, _ = make_client(fixed(404, b"<html>Not Found</html>"))
    with pytest.raises(ConnectRequestError, match="Not Found"):
        client.status("shop")


def test_a_non_json_body_is_quoted_as_sent_so_that_masking_finds_secrets() -> None:
    client, _ = make_client(fixed(200, b"<html>\n proxy says pa\\ss\n</html>"))
    with pytest.raises(ConnectUnavailableError) as info:
        client.status("shop")
    assert str(info.value).endswith("non-JSON content: <html> proxy says pa\\ss </html>")


def test_unexpected_shape_is_unavailable() -> None:
    client, _ = make_client(fixed(200, {"not": "a list"}))
    with pytest.raises(ConnectUnavailableError):
        client.connectors()


def test_backoff_doubles(monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []
    monkeypatch.setattr("cdc_facts.connect.client.time.sleep", delays.append)
    client, _ = make_client(fixed(500, {"message": "x"}), retries=3, backoff=0.5)
    with pytest.raises(ConnectUnavailableError):
        client.connectors()
    assert delays == [0.5, 1.0, 2.0]


# --- waiting for RUNNING ----------------------------------------------------------------


def status_with(connector: str, *tasks: str, trace: str = "") -> dict[str, Any]:
    return {
        "name": "shop",
        "connector": {"state": connector, "worker_id": "w", **({"trace": trace} if trace else {})},
        "tasks": [
            {"id": i, "state": s, "worker_id": "w", **({"trace": trace} if s == "FAILED" else {})}
            for i, s in enumerate(tasks)
        ],
    }


def test_wait_running_polls_until_all_tasks_run() -> None:
    seen: list[dict[str, Any]] = []
    client, adapter = make_client(
        sequence(
            (404, {"message": "Connector shop not found"}),
            (200, status_with("RUNNING")),
            (200, status_with("RUNNING", "RUNNING", "UNASSIGNED")),
            (200, status_with("RUNNING", "RUNNING", "RUNNING")),
        )
    )
    status = client.wait_running("shop", poll=0, timeout=5, on_progress=seen.append)
    assert is_running(status)
    assert len(adapter.requests) == 4
    assert len(seen) == 3, "progress is reported for every status Connect knows"


def test_wait_running_raises_with_task_trace() -> None:
    trace = (
        "org.apache.kafka.connect.errors.ConnectException: Error while connecting\n"
        "\tat io.debezium...\n"
        "Caused by: org.postgresql.util.PSQLException: FATAL: password authentication failed"
    )
    client, _ = make_client(fixed(200, status_with("RUNNING", "RUNNING", "FAILED", trace=trace)))
    with pytest.raises(ConnectorFailedError) as info:
        client.wait_running("shop", poll=0, timeout=5)
    assert info.value.task == 1
    assert info.value.trace == trace
    assert info.value.connector == "shop"
    assert "password authentication failed" in str(info.value)


def test_wait_running_connector_failed() -> None:
    client, _ = make_client(fixed(200, status_with("FAILED", trace="java.lang.Boom: bad")))
    with pytest.raises(ConnectorFailedError) as info:
        client.wait_running("shop", poll=0, timeout=5)
    assert info.value.task is None
    assert "java.lang.Boom: bad" in str(info.value)


def test_wait_running_times_out_naming_states() -> None:
    client, _ = make_client(fixed(200, status_with("RUNNING", "UNASSIGNED")))
    with pytest.raises(ConnectUnavailableError, match="0=UNASSIGNED") as info:
        client.wait_running("shop", poll=0, timeout=0)
    assert info.value.hint is not None and "--timeout" in info.value.hint


def test_wait_running_other_client_errors_raise() -> None:
    client, _ = make_client(fixed(401, {"message": "Unauthorized"}))
    with pytest.raises(ConnectRequestError) as info:
        client.wait_running("shop", poll=0, timeout=5)
    assert info.value.status == 401


def test_status_helpers() -> None:
    assert is_running(RUNNING)
    assert not is_running(status_with("RUNNING", "PAUSED"))
    assert not is_running(status_with("PAUSED", "RUNNING"))
    assert failure(RUNNING) is None
    assert failure(status_with("RUNNING", "FAILED", trace="x")) == (0, "x")

"""A typed client for the Kafka Connect REST API.

The transport is injectable: pass a :class:`requests.Session` (with adapters mounted in
tests) or let the client create one lazily on the first request. No network happens in
``__init__``.

Recoverability follows :mod:`cdc_facts.errors`: a 409 (rebalance in progress), a 5xx or a
connection error is retried with exponential backoff and, once retries are exhausted,
raised as :class:`~cdc_facts.errors.ConnectUnavailableError`; any other 4xx is raised at
once as :class:`~cdc_facts.errors.ConnectRequestError` carrying Connect's own message. Each
retry is reported to ``on_retry``, so that a command can show why it waits. A URL that
cannot be used (no ``http://``, an unreadable CA bundle) is a
:class:`~cdc_facts.errors.ConfigError`.

Credentials written in the URL (``http://user:password@host:8083``) become HTTP basic
authentication; ``base_url``, ``repr`` and every error show the URL without them.

>>> client = ConnectClient("http://admin:hunter2@127.0.0.1:8083")
>>> client.base_url, client
('http://127.0.0.1:8083', ConnectClient('http://127.0.0.1:8083'))
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests

from cdc_facts.errors import (
    ConfigError,
    ConnectorFailedError,
    ConnectRequestError,
    ConnectUnavailableError,
)

log = logging.getLogger(__name__)

#: Status of a connector as Connect reports it (``GET /connectors/{name}/status``).
Status = dict[str, Any]

#: Called with each status seen while waiting for a connector to run.
ProgressCallback = Callable[[Status], None]

#: Called with one line (what failed, when the next try is) before each retry.
RetryCallback = Callable[[str], None]

_RETRY_STATUSES = frozenset({409, 500, 502, 503, 504})
#: Request errors that retrying cannot fix: the URL or a header is malformed.
_BAD_REQUEST = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidHeader,
)
_URL_HINT = "check --connect-url (CDC_FACTS_CONNECT_URL), e.g. http://127.0.0.1:8083"


class ConnectClient:
    """Client for one Kafka Connect cluster.

    Args:
        base_url: Root of the REST API, e.g. ``http://127.0.0.1:8083``; credentials in it
            (``http://user:password@host``) are used for basic authentication.
        session: Transport to use; a new :class:`requests.Session` when ``None``.
        auth: ``(user, password)`` for HTTP basic authentication (wins over the URL's).
        verify: TLS verification: ``True``, ``False`` or a CA bundle path.
        cert: Client certificate: a path, or a ``(cert, key)`` pair of paths.
        timeout: Seconds to wait for each HTTP response.
        retries: How many times to retry a request that failed transiently.
        backoff: First retry delay in seconds; it doubles on each retry.
        on_retry: Called with one line before each retry.
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        auth: tuple[str, str] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        on_retry: RetryCallback | None = None,
    ) -> None:
        url, url_auth = split_userinfo(base_url)
        self.base_url = url.rstrip("/")
        self._session = session
        self._auth = auth or url_auth
        self._verify = verify
        self._cert = cert
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.on_retry = on_retry

    def __repr__(self) -> str:
        return f"ConnectClient({self.base_url!r})"

    # --- cluster ---------------------------------------------------------------------

    def server_info(self) -> dict[str, Any]:
        """Version, commit and Kafka cluster id of the worker (``GET /``)."""
        return self._json("GET", "/")

    def plugins(self) -> list[dict[str, Any]]:
        """Installed connector plugins: ``[{"class": ..., "type": ..., "version": ...}]``."""
        return self._json_list("GET", "/connector-plugins")

    def connectors(self) -> list[str]:
        """Names of the connectors defined on the cluster, sorted."""
        return sorted(str(name) for name in self._json_list("GET", "/connectors"))

    def statuses(self) -> dict[str, Status]:
        """The status of every connector, by name, in one request."""
        answer = self._json("GET", "/connectors?expand=status")
        return {name: dict(entry.get("status", {})) for name, entry in sorted(answer.items())}

    def configs(self) -> dict[str, dict[str, str]]:
        """The configuration of every connector, by name, in one request."""
        answer = self._json("GET", "/connectors?expand=info")
        return {name: dict(entry.get("info", {}).get("config", {}))
                for name, entry in sorted(answer.items())}

    def validate(self, plugin_class: str, config: dict[str, str]) -> dict[str, Any]:
        """Ask the plugin to validate a configuration without creating anything.

        Returns Connect's answer: ``error_count`` and ``configs[i].value.errors`` per key.
        ``connector.class`` is added to the config when missing, as Connect requires it.
        """
        body = {"connector.class": plugin_class, **config}
        plugin = quote(plugin_class, safe="")
        return self._json("PUT", f"/connector-plugins/{plugin}/config/validate", body=body)

    # --- one connector ---------------------------------------------------------------

    def put_config(self, name: str, config: dict[str, str]) -> dict[str, Any]:
        """Create the connector or update its configuration (idempotent).

        Returns Connect's answer: ``{"name", "config", "tasks", "type"}``.
        """
        return self._json("PUT", f"{_path(name)}/config", body=config, connector=name)

    def config(self, name: str) -> dict[str, str]:
        """The connector's configuration as Connect stores it."""
        return self._json("GET", f"{_path(name)}/config", connector=name)

    def status(self, name: str) -> Status:
        """``{"name", "connector": {"state", "worker_id"}, "tasks": [...], "type"}``."""
        return self._json("GET", f"{_path(name)}/status", connector=name)

    def exists(self, name: str) -> bool:
        """Whether a connector with this name is defined."""
        try:
            self._json("GET", _path(name), connector=name)
        except ConnectRequestError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def delete(self, name: str) -> None:
        """Remove the connector. Its offsets stay in Connect's offsets topic."""
        self._request("DELETE", _path(name), connector=name)

    def pause(self, name: str) -> None:
        """Pause the connector and its tasks; they keep their resources."""
        self._request("PUT", f"{_path(name)}/pause", connector=name)

    def resume(self, name: str) -> None:
        """Resume a paused or stopped connector."""
        self._request("PUT", f"{_path(name)}/resume", connector=name)

    def stop(self, name: str) -> None:
        """Stop the connector and shut its tasks down, keeping the configuration."""
        self._request("PUT", f"{_path(name)}/stop", connector=name)

    def restart(
        self, name: str, include_tasks: bool = True, only_failed: bool = True
    ) -> Status | None:
        """Restart the connector and, when asked, its (failed) tasks.

        Returns the status Connect answers with when it restarts asynchronously (202),
        or ``None`` when the restart was immediate (204).
        """
        params = {"includeTasks": _flag(include_tasks), "onlyFailed": _flag(only_failed)}
        response = self._request("POST", f"{_path(name)}/restart", params=params, connector=name)
        return _body(response) if response.content else None

    def offsets(self, name: str) -> list[dict[str, Any]]:
        """The connector's source offsets: ``[{"partition": {...}, "offset": {...}}]``."""
        answer = self._json("GET", f"{_path(name)}/offsets", connector=name)
        return list(answer.get("offsets", []))

    def topics(self, name: str) -> list[str]:
        """Topics the connector has written to since it was created (or the set was reset)."""
        answer = self._json("GET", f"{_path(name)}/topics", connector=name)
        return sorted(answer.get(name, {}).get("topics", []))

    def wait_running(
        self,
        name: str,
        *,
        timeout: float = 120.0,
        poll: float = 1.0,
        on_progress: ProgressCallback | None = None,
    ) -> Status:
        """Wait until the connector and all its tasks (at least one) are RUNNING.

        Args:
            name: Connector name.
            timeout: Seconds to wait before giving up.
            poll: Seconds between two status requests.
            on_progress: Called with every status seen.

        Returns:
            The first status in which everything runs.

        Raises:
            ConnectorFailedError: The connector or a task is FAILED (``trace`` says why).
            ConnectUnavailableError: It did not run within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        status: Status | None = None
        while True:
            status = self._status_or_none(name)
            if status is not None:
                if on_progress is not None:
                    on_progress(status)
                _raise_if_failed(name, status)
                if is_running(status):
                    return status
            if time.monotonic() >= deadline:
                raise _not_running(name, status, timeout)
            time.sleep(poll)

    def _status_or_none(self, name: str) -> Status | None:
        """The status, or ``None`` while Connect does not know the connector yet (404)."""
        try:
            return self.status(name)
        except ConnectRequestError as exc:
            if exc.status == 404:
                return None
            raise

    # --- transport -------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        """The HTTP session, created on first use."""
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def _json(
        self, method: str, path: str, *, body: object = None, connector: str | None = None
    ) -> dict[str, Any]:
        answer = _body(self._request(method, path, body=body, connector=connector))
        if not isinstance(answer, dict):
            raise ConnectUnavailableError(f"Kafka Connect answered {method} {path} with "
                                          f"{_snippet(json.dumps(answer))}, not an object")
        return answer

    def _json_list(self, method: str, path: str) -> list[Any]:
        answer = _body(self._request(method, path))
        if not isinstance(answer, list):
            raise ConnectUnavailableError(f"Kafka Connect answered {method} {path} with "
                                          f"{_snippet(json.dumps(answer))}, not a list")
        return answer

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        params: dict[str, str] | None = None,
        connector: str | None = None,
    ) -> requests.Response:
        """Send one request, retrying transient failures; raise typed errors."""
        attempt = 0
        while True:
            failure = self._attempt(method, path, body=body, params=params, connector=connector)
            if isinstance(failure, requests.Response):
                return failure
            if attempt >= self.retries:
                raise failure
            delay = self.backoff * (2**attempt)
            line = (f"{method} {path}: {failure.message}; retry {attempt + 1} of "
                    f"{self.retries} in {delay:.1f}s")
            log.info("%s", line)
            if self.on_retry is not None:
                self.on_retry(line)
            time.sleep(delay)
            attempt += 1

    def _attempt(
        self,
        method: str,
        path: str,
        *,
        body: object,
        params: dict[str, str] | None,
        connector: str | None,
    ) -> requests.Response | ConnectUnavailableError:
        """One try: the response, or the transient error to retry (client errors raise)."""
        url = self.base_url + path
        log.debug("%s %s", method, url)
        try:
            response = self.session.request(
                method,
                url,
                json=body,
                params=params,
                auth=self._auth,
                verify=self._verify,
                cert=self._cert,
                timeout=self.timeout,
                headers={"Accept": "application/json"},
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            return ConnectUnavailableError(
                f"Kafka Connect at {self.base_url} is unreachable: {exc}"
            )
        except _BAD_REQUEST as exc:
            raise ConfigError(f"cannot send {method} {path} to Kafka Connect at "
                              f"{self.base_url}: {exc}", hint=_URL_HINT, key="connect_url") from exc
        except requests.RequestException as exc:  # a broken answer: try again
            return ConnectUnavailableError(
                f"Kafka Connect at {self.base_url} sent a broken answer to {method} {path}: {exc}"
            )
        except OSError as exc:  # requests reads the CA bundle and client certificate late
            raise ConfigError(
                f"cannot use the TLS files for Kafka Connect at {self.base_url}: {exc}",
                hint="check --connect-ca (CDC_FACTS_CONNECT_CA): a readable CA bundle",
                key="connect_ca",
            ) from exc
        if response.status_code < 400:
            return response
        message = _error_message(response)
        if response.status_code in _RETRY_STATUSES or response.status_code >= 500:
            return ConnectUnavailableError(
                f"Kafka Connect answered {method} {path} with {response.status_code}: {message}",
                status=response.status_code,
            )
        raise ConnectRequestError(
            f"Kafka Connect refused {method} {path} ({response.status_code}): {message}",
            status=response.status_code,
            connector=connector,
        )


# --- status helpers --------------------------------------------------------------------


def is_running(status: Status) -> bool:
    """Whether the connector and all its tasks (at least one) are RUNNING.

    >>> is_running({"connector": {"state": "RUNNING"}, "tasks": [{"id": 0, "state": "RUNNING"}]})
    True
    >>> is_running({"connector": {"state": "RUNNING"}, "tasks": []})
    False
    """
    tasks = status.get("tasks") or []
    if status.get("connector", {}).get("state") != "RUNNING" or not tasks:
        return False
    return all(task.get("state") == "RUNNING" for task in tasks)


def failure(status: Status) -> tuple[int | None, str] | None:
    """``(task id or None for the connector, trace)`` of the first FAILED part, if any."""
    connector = status.get("connector", {})
    if connector.get("state") == "FAILED":
        return None, str(connector.get("trace") or "")
    for task in status.get("tasks") or []:
        if task.get("state") == "FAILED":
            return int(task.get("id", 0)), str(task.get("trace") or "")
    return None


def _raise_if_failed(name: str, status: Status) -> None:
    failed = failure(status)
    if failed is None:
        return
    task, trace = failed
    part = "connector" if task is None else f"task {task} of connector"
    cause = _first_line(trace)
    raise ConnectorFailedError(
        f"{part} `{name}` FAILED: {cause}" if cause else f"{part} `{name}` FAILED",
        connector=name,
        task=task,
        trace=trace or None,
        hint=f"fix the cause, then `cdc-facts connector restart {name}`",
    )


def _not_running(name: str, status: Status | None, timeout: float) -> ConnectUnavailableError:
    if status is None:
        seen = "Connect does not report it yet"
    else:
        tasks = ", ".join(f"{t.get('id')}={t.get('state')}" for t in status.get("tasks") or [])
        seen = f"connector {status.get('connector', {}).get('state')}, tasks: {tasks or 'none'}"
    error = ConnectUnavailableError(
        f"connector `{name}` is not RUNNING after {timeout:g}s ({seen})"
    )
    error.hint = f"watch it with `cdc-facts connector status {name}` or wait longer (--timeout)"
    return error


def _first_line(trace: str) -> str:
    """The exception line of a Java trace, with nested causes' messages when present."""
    lines = [line.strip() for line in trace.splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith("Caused by:")]
    head = lines[0] if lines else ""
    return f"{head} ({causes[-1]})" if causes else head


def _error_message(response: requests.Response) -> str:
    """Connect's ``message`` field, or the raw body when it is not JSON."""
    try:
        answer = response.json()
    except ValueError:
        return _snippet(response.text, 500) or response.reason or ""
    if isinstance(answer, dict) and "message" in answer:
        return str(answer["message"])
    return str(answer)[:500]


def _body(response: requests.Response) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError as exc:
        raise ConnectUnavailableError(
            f"Kafka Connect answered {response.request.method} {response.url} with non-JSON "
            f"content: {_snippet(response.text)}",
            status=response.status_code,
        ) from exc


def _snippet(text: str, limit: int = 200) -> str:
    """``text`` on one line, cut at ``limit`` characters, otherwise as sent: no repr, whose
    escapes would hide a secret from masking.

    >>> _snippet("<html>\\n  <b>proxy</b>\\n</html>")
    '<html> <b>proxy</b> </html>'
    """
    return " ".join(text.split())[:limit]


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without the ``user:password@`` part, and the credentials it held.

    >>> split_userinfo("https://admin:p%40ss@connect:8083/")
    ('https://connect:8083/', ('admin', 'p@ss'))
    >>> split_userinfo("http://connect:8083")
    ('http://connect:8083', None)
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, None
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), (unquote(user), unquote(password))


def _path(name: str) -> str:
    return f"/connectors/{quote(name, safe='')}"


def _flag(value: bool) -> str:
    return "true" if value else "false"

"""What the translator service tells the outside world: Prometheus metrics and health.

:class:`ServiceMetrics` holds every metric in its own ``CollectorRegistry`` (never the
global one) and the :class:`Health` of the service. :class:`MetricsServer` serves them
over HTTP:

* ``/metrics``: the metrics, in the Prometheus text format,
* ``/healthz``: 200 while the process runs,
* ``/readyz``: 200 when partitions are assigned and the service makes progress, else 503
  with the reason.

>>> metrics = ServiceMetrics()
>>> metrics.committed(records=3, changes={("public.orders", "c"): 3},
...                   facts={"sales.OrderPlaced.v1": 3}, dead_letters={}, duplicates={},
...                   latencies_s=[0.2])
>>> metrics.value("cdc_facts_facts_produced_total", type="sales.OrderPlaced.v1")
3.0
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)

_BATCH_BUCKETS: Final = (1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 50_000)
_LATENCY_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
_COMMIT_BUCKETS: Final = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30)
_TRANSLATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 10, 60)


class Health:
    """Whether the service is alive and ready.

    Ready means: partitions are assigned, the service loop polled its consumer recently,
    and records read are committed in time: no transaction has stayed open, and no record
    read has waited for a commit (through aborts and retries), longer than
    ``stall_after_s``. An idle service (nothing read since the last commit) stays ready.

    >>> health = Health(stall_after_s=30, clock=lambda: 100.0)
    >>> health.ready()
    (False, 'no partitions assigned')
    >>> health.assigned(2); health.polled()
    >>> health.ready()
    (True, 'ready: 2 partitions assigned')
    """

    def __init__(self, stall_after_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_after_s = stall_after_s
        self._clock = clock
        self._partitions = 0
        self._last_poll: float | None = None
        self._open_since: float | None = None
        self._last_commit: float | None = None
        self._waiting_since: float | None = None  # the first record read since the commit
        self._aborts = 0  # since the last commit
        self._stopping = False

    def assigned(self, partitions: int) -> None:
        """The number of partitions the service owns now."""
        self._partitions = partitions

    def polled(self) -> None:
        """The service loop polled its consumer: the call returned, with or without
        records (the client answers from what it has fetched, so this does not prove that
        the broker answers; it proves that the loop is not stuck)."""
        self._last_poll = self._clock()

    def transaction(self, open_since: float | None) -> None:
        """When the open transaction began, at its first record (``None``: none is open)."""
        self._open_since = open_since
        if open_since is not None and self._waiting_since is None:
            self._waiting_since = open_since

    def committed(self) -> None:
        """A transaction committed: every record read so far is done."""
        self._last_commit = self._clock()
        self._waiting_since = None
        self._aborts = 0

    def aborted(self) -> None:
        """A transaction aborted: its records wait to be read and committed again."""
        self._aborts += 1

    def released(self) -> None:
        """Partitions went to another instance: with no transaction open, what was read
        and not committed is no longer this instance's to commit."""
        if self._open_since is None:
            self._waiting_since = None

    def stopping(self) -> None:
        """The service is shutting down."""
        self._stopping = True

    def ready(self) -> tuple[bool, str]:
        """Whether the service is ready, and why (not)."""
        now, stall = self._clock(), self.stall_after_s
        if self._stopping:
            return False, "stopping"
        if self._partitions == 0:
            return False, "no partitions assigned"
        if self._last_poll is None or now - self._last_poll > stall:
            return False, f"no poll of the consumer for more than {stall:.0f} s"
        if self._open_since is not None and now - self._open_since > stall:
            return False, f"a transaction is open for more than {stall:.0f} s"
        if self._waiting_since is not None and now - self._waiting_since > stall:
            last = "none yet" if self._last_commit is None else (
                f"{now - self._last_commit:.0f} s ago")
            return False, (f"records read but no transaction committed for more than "
                           f"{stall:.0f} s ({self._aborts} aborted; last commit: {last})")
        return True, f"ready: {self._partitions} partitions assigned"


class ServiceMetrics:
    """Every metric of the service, in a dedicated registry.

    Counts are updated when a transaction commits, so they count what became visible.
    The consumer lag is updated after each commit, and whenever the service reports it
    with :meth:`lags` (after an abort, say, when no commit comes).
    """

    def __init__(self, registry: CollectorRegistry | None = None,
                 health: Health | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.health = health or Health()
        self._define(self.registry)

    def _define(self, r: CollectorRegistry) -> None:
        self.changes = Counter("cdc_facts_changes_consumed", "Change records read and handled",
                               ["table", "op"], registry=r)
        self.facts = Counter("cdc_facts_facts_produced", "Facts produced", ["type"], registry=r)
        self.dead_letters = Counter("cdc_facts_dead_letters", "Records sent to the dead-letter "
                                    "topic", ["reason"], registry=r)
        self.duplicates = Counter("cdc_facts_duplicates_dropped", "Changes dropped as repeats "
                                  "of changes already turned into facts", ["table"], registry=r)
        self.commits = Counter("cdc_facts_transaction_commits", "Transactions committed",
                               registry=r)
        self.aborts = Counter("cdc_facts_transaction_aborts", "Transactions aborted",
                              registry=r)
        self.batch = Histogram("cdc_facts_batch_records", "Records read per transaction",
                               buckets=_BATCH_BUCKETS, registry=r)
        self.commit_time = Histogram("cdc_facts_transaction_commit_seconds", "How long "
                                     "committing a transaction took: delivering its records, "
                                     "adding the consumer offsets, ending it",
                                     buckets=_COMMIT_BUCKETS, registry=r)
        self.latency = Histogram("cdc_facts_end_to_end_latency_seconds", "From the source "
                                 "commit (source.ts_ms) to the commit of the facts, per "
                                 "source commit time in a batch",
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.translation = Histogram(
            "cdc_facts_translation_latency_seconds", "From the Kafka timestamp of a "
            "transaction's oldest change record to the transaction's commit, once per "
            "transaction: the most the translator added to any of its changes",
            buckets=_TRANSLATION_BUCKETS, registry=r)
        self.lag = Gauge("cdc_facts_consumer_lag", "Records in a change-topic partition past "
                         "the committed position", ["topic", "partition"], registry=r)
        self.assigned = Gauge("cdc_facts_assigned_partitions", "Change-topic partitions this "
                              "instance owns", registry=r)
        self.last_commit = Gauge("cdc_facts_last_commit_timestamp_seconds", "When a "
                                 "transaction last committed, in seconds since the epoch "
                                 "(0: none yet)", registry=r)

    def committed(self, *, records: int, changes: Mapping[tuple[str, str], int],
                  facts: Mapping[str, int], dead_letters: Mapping[str, int],
                  duplicates: Mapping[str, int], latencies_s: Iterable[float],
                  commit_s: float | None = None, oldest_change_s: float | None = None) -> None:
        """Count what one committed transaction made visible (and how long its commit
        took, ``commit_s``, and how long after its oldest change record was written,
        ``oldest_change_s``)."""
        self.commits.inc()
        self.last_commit.set_to_current_time()
        self.health.committed()
        if commit_s is not None:
            self.commit_time.observe(commit_s)
        if oldest_change_s is not None:
            self.translation.observe(oldest_change_s)
        self.batch.observe(records)
        for (table, op), count in changes.items():
            self.changes.labels(table=table, op=op).inc(count)
        for fact_type, count in facts.items():
            self.facts.labels(type=fact_type).inc(count)
        for reason, count in dead_letters.items():
            self.dead_letters.labels(reason=reason).inc(count)
        for table, count in duplicates.items():
            self.duplicates.labels(table=table).inc(count)
        for seconds in latencies_s:
            self.latency.observe(seconds)

    def aborted(self) -> None:
        """Count an aborted transaction."""
        self.aborts.inc()
        self.health.aborted()

    def partitions(self, owned: int, lags: Mapping[tuple[str, int], int]) -> None:
        """How many partitions this instance owns, and how far behind each is."""
        self.assigned.set(owned)
        self.health.assigned(owned)
        self.lags(lags)

    def lags(self, lags: Mapping[tuple[str, int], int]) -> None:
        """How far behind each partition is, without a commit (after an abort, say): records
        past the position the service would read next.

        >>> metrics = ServiceMetrics()
        >>> metrics.lags({("shop.public.orders", 0): 12})
        >>> metrics.value("cdc_facts_consumer_lag", topic="shop.public.orders", partition="0")
        12.0
        """
        for (topic, partition), lag in lags.items():
            self.lag.labels(topic=topic, partition=str(partition)).set(lag)

    def forget(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Drop the lag of partitions this instance no longer owns (what was read from them
        and not committed no longer keeps the service from being ready)."""
        self.health.released()
        for topic, partition in partitions:
            try:
                self.lag.remove(topic, str(partition))
            except KeyError:
                pass

    def value(self, name: str, **labels: str) -> float | None:
        """The current value of one sample (for tests and diagnostics)."""
        return self.registry.get_sample_value(name, labels)

    def render(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return generate_latest(self.registry)


class MetricsServer:
    """Serves ``/metrics``, ``/healthz`` and ``/readyz`` from a background thread.

    Args:
        metrics: what to serve.
        host: the address to listen on.
        port: the port to listen on (0: any free port; see :attr:`port` once started).
    """

    def __init__(self, metrics: ServiceMetrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen and serve in a daemon thread.

        Raises:
            OSError: the port cannot be bound.
        """
        self._server = ThreadingHTTPServer((self.host, self.port), _handler(self.metrics))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="cdc-facts-metrics", daemon=True)
        self._thread.start()
        log.info("serving /metrics, /healthz and /readyz on http://%s:%d", self.host, self.port)

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler(metrics: ServiceMetrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, metrics.render(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._answer(200, b"ok\n")
            elif path == "/readyz":
                ready, reason = metrics.health.ready()
                self._answer(200 if ready else 503, f"{reason}\n".encode())
            else:
                self._answer(404, b"not found: try /metrics, /healthz or /readyz\n")

        def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            log.debug("metrics server: " + format, *args)

    return Handler

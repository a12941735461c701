"""Prometheus metrics of one process: its own registry, process_* series, a /metrics endpoint.

A component only declares its metrics::

    metrics = ProcessMetrics()
    saves = metrics.counter("shardkit_characters_saves", "Saves answered, by result.", ["result"])
    metrics.live_gauge("shardkit_characters_in_play", "Characters in play.",
                       lambda: {(): len(claims)})
    endpoint = await metrics.serve(host, port, "characters")  # announces where it listens

and uses prometheus-client's own objects (``saves.labels("ok").inc()``). Each process has its
own ``CollectorRegistry`` (never prometheus-client's global one), so tests may build as many
components in one interpreter as they like. Every registry carries prometheus-client's
``process_*`` (CPU, memory, open files), ``python_gc_*`` and ``python_info`` series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from shardkit.runtime.http import HttpEndpoint
from shardkit.runtime.main import announce

__all__ = [
    "LATENCY_BUCKETS_S",
    "HistogramSnapshot",
    "ProcessMetrics",
    "histogram_snapshot",
    "metrics_app",
]

# A ``<name>_created`` series for every counter and histogram doubles what is scraped and
# says nothing an operator needs (the process start time is in process_start_time_seconds).
disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Buckets for how long a request or a save takes, in seconds."""

LabelValues = tuple[str, ...]
LiveRead = Callable[[], Mapping[LabelValues, float]]
"""Reads a live value when the metrics are scraped: {label values: value} (``()`` if unlabelled)."""


class HistogramSnapshot:
    """A histogram's state as another process reported it: cumulative counts per bucket bound.

    ``counts[i]`` is the number of observations <= ``bounds[i]``, the last one (for +Inf) the
    total. Used where a process re-exports a histogram a child keeps (a WorldServer shows its
    zones' tick times).
    """

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float], counts: Sequence[int], total: float) -> None:
        if len(counts) != len(bounds) + 1:
            raise ValueError(f"{len(counts)} bucket counts for {len(bounds)} bounds (+Inf)")
        rising = all(b <= a for a, b in zip(counts[1:], counts, strict=False))
        if any(c < 0 for c in counts) or not rising:
            raise ValueError("bucket counts must be cumulative and not negative")
        self.bounds = tuple(bounds)
        self.counts = tuple(int(c) for c in counts)
        self.sum = float(total)

    def buckets(self) -> list[tuple[str, float]]:
        les = [_le(b) for b in self.bounds] + ["+Inf"]
        return list(zip(les, (float(c) for c in self.counts), strict=True))

    def quantile(self, q: float) -> float | None:
        """An estimate of the q-quantile (the upper bound of its bucket); None if empty."""
        total = self.counts[-1]
        if not total:
            return None
        rank = q * total
        for bound, count in zip(self.bounds, self.counts, strict=False):
            if count >= rank:
                return bound
        return float("inf")


def histogram_snapshot(histogram: Histogram | Metric, bounds: Sequence[float]) -> HistogramSnapshot:
    """The cumulative counts and sum of an unlabelled (or one labelled child's) histogram."""
    counts: dict[str, float] = {}
    total = 0.0
    families = histogram.collect() if isinstance(histogram, Histogram) else [histogram]
    for family in families:
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                counts[sample.labels["le"]] = sample.value
            elif sample.name.endswith("_sum"):
                total = sample.value
    les = [_le(b) for b in bounds] + ["+Inf"]
    return HistogramSnapshot(bounds, [int(counts.get(le, 0)) for le in les], total)


def _le(bound: float) -> str:
    return repr(float(bound))


class _LiveGauge(Collector):
    def __init__(self, name: str, help: str, labels: Sequence[str], read: LiveRead) -> None:
        self.name, self.help, self.labels, self.read = name, help, list(labels), read

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self.name, self.help, labels=self.labels)
        for values, value in sorted(self.read().items()):
            family.add_metric(list(values), float(value))
        yield family

    def describe(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(self.name, self.help, labels=self.labels)


class _LiveHistogram(Collector):
    def __init__(self, name: str, help: str, labels: Sequence[str],
                 read: Callable[[], Mapping[LabelValues, HistogramSnapshot]]) -> None:
        self.name, self.help, self.labels, self.read = name, help, list(labels), read

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self.name, self.help, labels=self.labels)
        for values, snapshot in sorted(self.read().items()):
            family.add_metric(list(values), snapshot.buckets(), snapshot.sum)
        yield family

    def describe(self) -> Iterable[Metric]:
        yield HistogramMetricFamily(self.name, self.help, labels=self.labels)


class ProcessMetrics:
    """The metrics of one process, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    # ------------------------------------------------------------ declare
    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Counter:
        """A counter (prometheus-client adds ``_total`` to the name if it is not there)."""
        return Counter(name, help, labels, registry=self.registry)

    def gauge(self, name: str, help: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(name, help, labels, registry=self.registry)

    def histogram(self, name: str, help: str, labels: Sequence[str] = (),
                  buckets: Sequence[float] = LATENCY_BUCKETS_S) -> Histogram:
        return Histogram(name, help, labels, registry=self.registry, buckets=buckets)

    def live_gauge(self, name: str, help: str, read: LiveRead, labels: Sequence[str] = ()) -> None:
        """A gauge whose values ``read()`` gives at scrape time: {label values: value}."""
        self.registry.register(_LiveGauge(name, help, labels, read))

    def live_histogram(self, name: str, help: str,
                       read: Callable[[], Mapping[LabelValues, HistogramSnapshot]],
                       labels: Sequence[str] = ()) -> None:
        """A histogram whose buckets ``read()`` gives at scrape time (kept by another process)."""
        self.registry.register(_LiveHistogram(name, help, labels, read))

    # --------------------------------------------------------------- read
    def value(self, sample: str, **labels: str) -> float:
        """The current value of one sample (``shardkit_x_total``, labels), 0 if it has none."""
        return self.registry.get_sample_value(sample, labels) or 0.0

    def render(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)

    # -------------------------------------------------------------- serve
    async def serve(self, host: str, port: int, what: str) -> HttpEndpoint:
        """Serve ``/metrics`` on host:port (0: any free port) and announce
        ``<what> metrics (http) listening on host:port``."""
        endpoint = HttpEndpoint(metrics_app(self))
        await endpoint.start(host, port)
        announce(f"{what} metrics (http) listening on {host}:{endpoint.port}")
        return endpoint


def metrics_app(metrics: ProcessMetrics) -> web.Application:
    """An aiohttp application serving ``/metrics`` (and ``/healthz``); add more routes to it."""

    async def scrape(request: web.Request) -> web.Response:
        response = web.Response(body=metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", healthz)
    return app

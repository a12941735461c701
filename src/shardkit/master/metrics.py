"""Prometheus metrics of the master, kept in plain counters and rendered in the text exposition format."""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

__all__ = ["Counter", "Gauge", "Histogram", "MasterMetrics", "MetricsRegistry"]

LabelValues = tuple[str, ...]

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: LabelValues, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


class Counter:
    """A monotonically growing count, optionally split by label values."""

    kind = "counter"

    def __init__(self, name: str, help: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.labels = name, help, labels
        self._values: dict[LabelValues, float] = {} if labels else {(): 0.0}

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        self._values[label_values] = self._values.get(label_values, 0.0) + amount

    def value(self, *label_values: str) -> float:
        return self._values.get(label_values, 0.0)

    def samples(self) -> Iterable[str]:
        for values, number in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.labels, values)} {_number(number)}"


class Gauge:
    """A value read when the metrics are rendered: ``read()`` gives {label values: value}."""

    kind = "gauge"

    def __init__(self, name: str, help: str, read: Callable[[], dict[LabelValues, float]],
                 labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.labels, self._read = name, help, labels, read

    def samples(self) -> Iterable[str]:
        for values, number in sorted(self._read().items()):
            yield f"{self.name}{_labels(self.labels, values)} {_number(number)}"


class Histogram:
    """Observations counted into cumulative ``le`` buckets, split by label values."""

    kind = "histogram"

    def __init__(self, name: str, help: str, labels: tuple[str, ...] = (),
                 buckets: tuple[float, ...] = LATENCY_BUCKETS_S) -> None:
        self.name, self.help, self.labels = name, help, labels
        self.buckets = tuple(sorted(buckets))
        self._counts: dict[LabelValues, list[int]] = {}
        self._sums: dict[LabelValues, float] = {}

    def observe(self, value: float, *label_values: str) -> None:
        counts = self._counts.get(label_values)
        if counts is None:
            counts = self._counts[label_values] = [0] * (len(self.buckets) + 1)
            self._sums[label_values] = 0.0
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self._sums[label_values] += value

    def count(self, *label_values: str) -> int:
        return sum(self._counts.get(label_values, ()))

    def samples(self) -> Iterable[str]:
        for values, counts in sorted(self._counts.items()):
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                running += count
                le = f'le="{_number(bound)}"'
                yield f"{self.name}_bucket{_labels(self.labels, values, le)} {running}"
            yield f"{self.name}_sum{_labels(self.labels, values)} {_number(self._sums[values])}"
            yield f"{self.name}_count{_labels(self.labels, values)} {running}"


Metric = Counter | Gauge | Histogram


class MetricsRegistry:
    """Metrics in the order they were added, rendered as Prometheus text format 0.0.4."""

    CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self) -> None:
        self._metrics: list[Metric] = []

    def add(self, metric: Metric) -> Metric:
        self._metrics.append(metric)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics:
            lines.append(f"# HELP {metric.name} {metric.help}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            lines.extend(metric.samples())
        return "\n".join(lines) + "\n"


class MasterMetrics:
    """The master's own metrics; gauges read live state through the callbacks given."""

    def __init__(self) -> None:
        self.registry = MetricsRegistry()
        self.logins = Counter("shardkit_master_logins_total",
                              "Login attempts that reached login_finish, by result.", ("result",))
        self.password_checks = Counter("shardkit_master_password_checks_total",
                                       "SCRAM proofs checked, by outcome.", ("outcome",))
        self.registrations = Counter("shardkit_master_registrations_total",
                                     "Register calls, by result.", ("result",))
        self.tickets = Counter("shardkit_master_world_tickets_total",
                               "World tickets issued, by how (direct or from the queue).", ("via",))
        self.kicks = Counter("shardkit_master_kicks_total", "Accounts kicked, by cause.", ("cause",))
        self.latency = Histogram("shardkit_master_request_seconds",
                                 "Time the master spent answering a request.", ("method",))
        for metric in (self.logins, self.password_checks, self.registrations, self.tickets,
                       self.kicks, self.latency):
            self.registry.add(metric)

    def add_gauge(self, name: str, help: str, read: Callable[[], dict[LabelValues, float]],
                  labels: tuple[str, ...] = ()) -> None:
        self.registry.add(Gauge(name, help, read, labels))

    @contextmanager
    def timer(self, method: str) -> Iterator[None]:
        """Observe how long the block takes in the request latency histogram."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.latency.observe(time.perf_counter() - started, method)

    def render(self) -> str:
        return self.registry.render()

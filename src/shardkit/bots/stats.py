"""What bots count: who got in, errors by code, snapshots, bytes and input-to-visible latency.

Counters of one process live in a ``BotStats``; ``Figures`` is its picklable copy, sent to the
parent process each second, and merged there. The *window* counters (snapshots, bytes,
latencies, client-seconds, CPU) count only once every bot of the process is in, so logging in
does not blur the steady state.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

LATENCY_TIMEOUT_S = 5.0
"""A turn not seen in our own position within this long counts as lost, not as a latency."""


@dataclass
class Figures:
    """A process's counters at one moment (summed over processes by ``merge``)."""

    bots: int = 0
    entered: int = 0  # bots that got into a zone (at least once)
    in_zone: int = 0  # bots in a zone now
    finished_entering: int = 0  # bots that got in or gave up
    errors: dict[str, int] = field(default_factory=dict)
    portals: int = 0
    snapshots_total: int = 0
    # the window
    measuring: bool = False
    window_s: float = 0.0
    client_seconds: float = 0.0  # sum over bots of the seconds each was in a zone
    snapshots: int = 0
    sync_bytes: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    latency_lost: int = 0
    cpu_s: float = 0.0
    tick_hz: float = 0.0
    procs: int = 1
    proc: int = 0  # which process (0: the only one)
    cpu_total_s: float = 0.0  # CPU since the process started its bots
    login_s: float = 0.0  # from the start until every bot got in or gave up
    phases: dict[str, list[float]] = field(default_factory=dict)  # seconds of each entry step

    def merge(self, other: Figures) -> None:
        for name in ("bots", "entered", "in_zone", "finished_entering", "portals",
                     "snapshots_total", "client_seconds", "snapshots", "sync_bytes",
                     "latency_lost", "cpu_s", "cpu_total_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        errors = Counter(self.errors)
        errors.update(other.errors)
        self.errors = dict(errors)
        self.latencies_ms = self.latencies_ms + other.latencies_ms
        for phase, seconds in other.phases.items():
            self.phases[phase] = self.phases.get(phase, []) + seconds
        self.measuring = self.measuring or other.measuring
        self.window_s = max(self.window_s, other.window_s)
        self.tick_hz = max(self.tick_hz, other.tick_hz)
        self.login_s = max(self.login_s, other.login_s)


class BotStats:
    """One process's live counters (bots update them directly; no locks: one event loop)."""

    def __init__(self, bots: int) -> None:
        self.bots = bots
        self.entered = 0
        self.in_zone = 0
        self.finished_entering = 0
        self.errors: Counter[str] = Counter()
        self.portals = 0
        self.snapshots_total = 0
        self.tick_hz = 0.0
        self.started = time.monotonic()
        self.cpu_started = time.process_time()
        self.login_s = 0.0
        self.measuring = False
        self._window_start = 0.0
        self._cpu_start = 0.0
        self._sampled = 0.0
        self.client_seconds = 0.0
        self.snapshots = 0
        self.sync_bytes = 0
        self.latencies_ms: list[float] = []
        self.latency_lost = 0
        self.phases: dict[str, list[float]] = {}

    def lap(self, phase: str, since: float) -> float:
        """Count the seconds of one step of getting in (register, login, world, zone); now."""
        now = time.monotonic()
        self.phases.setdefault(phase, []).append(now - since)
        return now

    def error(self, code: str) -> None:
        self.errors[code] += 1

    def begin_window(self) -> None:
        """Start counting the steady state (every bot is in)."""
        now = time.monotonic()
        self.login_s = now - self.started
        self.measuring = True
        self._window_start = self._sampled = now
        self._cpu_start = time.process_time()
        self.client_seconds = 0.0
        self.snapshots = self.sync_bytes = self.latency_lost = 0
        self.latencies_ms = []

    def sample(self) -> None:
        """Add the seconds the bots in a zone spent there since the last sample."""
        now = time.monotonic()
        if self.measuring:
            self.client_seconds += self.in_zone * (now - self._sampled)
        self._sampled = now

    def figures(self, *, with_latencies: bool = True) -> Figures:
        self.sample()
        now = time.monotonic()
        return Figures(
            bots=self.bots, entered=self.entered, in_zone=self.in_zone,
            finished_entering=self.finished_entering, errors=dict(self.errors),
            portals=self.portals, snapshots_total=self.snapshots_total,
            measuring=self.measuring,
            window_s=now - self._window_start if self.measuring else 0.0,
            client_seconds=self.client_seconds, snapshots=self.snapshots,
            sync_bytes=self.sync_bytes,
            latencies_ms=list(self.latencies_ms) if with_latencies else [],
            latency_lost=self.latency_lost,
            cpu_s=time.process_time() - self._cpu_start if self.measuring else 0.0,
            cpu_total_s=time.process_time() - self.cpu_started,
            phases={k: list(v) for k, v in self.phases.items()} if with_latencies else {},
            tick_hz=self.tick_hz, login_s=self.login_s)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank on sorted values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def report(f: Figures) -> dict[str, object]:
    """The figures a run ends with (what the bench reads), from merged ``Figures``."""
    per_client_s = f.snapshots / f.client_seconds if f.client_seconds else 0.0
    lat = f.latencies_ms
    return {
        "bots": f.bots, "connected": f.entered, "in_zone_at_end": f.in_zone,
        "errors": dict(sorted(f.errors.items())), "procs": f.procs,
        "login_s": round(f.login_s, 2), "window_s": round(f.window_s, 2),
        "input_p50_ms": round(percentile(lat, 50), 1),
        "input_p90_ms": round(percentile(lat, 90), 1),
        "input_p99_ms": round(percentile(lat, 99), 1),
        "input_max_ms": round(max(lat), 1) if lat else 0.0,
        "latency_samples": len(lat), "latency_lost": f.latency_lost,
        "snapshots_per_client_s": round(per_client_s, 3), "tick_hz": f.tick_hz,
        "snapshots_delivered_ratio": round(per_client_s / f.tick_hz, 4) if f.tick_hz else 0.0,
        "bytes_per_client_s": round(f.sync_bytes / f.client_seconds, 1)
        if f.client_seconds else 0.0,
        "portals": f.portals,
        "entry_p50_s": {phase: round(percentile(s, 50), 3) for phase, s in f.phases.items()},
        "entry_p99_s": {phase: round(percentile(s, 99), 3) for phase, s in f.phases.items()},
        "bots_cpu_pct": round(100 * f.cpu_s / f.window_s, 1) if f.window_s else 0.0,
    }


def report_text(r: dict[str, object]) -> list[str]:
    errors, p50, p99 = r["errors"], r["entry_p50_s"], r["entry_p99_s"]
    assert isinstance(errors, dict) and isinstance(p50, dict) and isinstance(p99, dict)
    shown = ", ".join(f"{code} {count}" for code, count in errors.items()) or "none"
    return [
        f"bots: {r['connected']} of {r['bots']} connected ({r['in_zone_at_end']} in a zone at"
        f" the end), all in after {r['login_s']} s; measured {r['window_s']} s",
        f"errors by code: {shown}",
        f"input-to-visible latency: p50 {r['input_p50_ms']} ms, p90 {r['input_p90_ms']} ms,"
        f" p99 {r['input_p99_ms']} ms, max {r['input_max_ms']} ms"
        f" ({r['latency_samples']} turns seen, {r['latency_lost']} not seen in"
        f" {LATENCY_TIMEOUT_S:g} s)",
        f"snapshots: {r['snapshots_per_client_s']} per client per second at {r['tick_hz']} ticks"
        f" per second ({100 * float(str(r['snapshots_delivered_ratio'])):.2f}% delivered)",
        f"bytes per client per second: {r['bytes_per_client_s']} (sync)",
        "getting in, p50/p99 seconds per step: " + (", ".join(
            f"{phase} {p50[phase]}/{p99.get(phase)}" for phase in p50) or "none"),
        f"bots' own CPU: {r['bots_cpu_pct']}% of one core ({r['procs']} process(es))",
    ]

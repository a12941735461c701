"""Unit tests of the master's logic with injected clocks.

Back-off limiter, bans, login queue, world list, metrics.
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shardkit.master.accounts_rules import name_problem, password_problem
from shardkit.master.bans import ActiveBan, BanList, parse_duration, parse_network
from shardkit.master.gate import WorldGate
from shardkit.master.metrics import MasterMetrics
from shardkit.master.queue import LoginQueues, QueueFull
from shardkit.master.ratelimit import BackoffLimiter, RateLimited, ip_key, retry_after_s
from shardkit.master.schemas import AnnounceWorld, QueuePlace, WorldEntry
from shardkit.master.worlds import WorldRegistry
from shardkit.wire.rpc import Identity, RpcError
from shardkit.wire.tickets import TicketRedeemer


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# ------------------------------------------------------------------------------ limiter


def test_limiter_allows_the_budget_then_backs_off_and_recovers() -> None:
    clock = Clock()
    limiter = BackoffLimiter(3, window_s=60, backoff_s=5, max_backoff_s=900, clock=clock)
    assert limiter.record("a") == 0 and limiter.record("a") == 0
    wait = limiter.record("a")  # third failure in the window: locked
    assert wait == pytest.approx(60)  # the window bound, longer than the 5 s back-off
    assert limiter.retry_after("b") == 0  # other keys are not touched
    clock.advance(59.9)
    assert limiter.retry_after("a") == pytest.approx(0.1)
    clock.advance(0.1)
    assert limiter.retry_after("a") == 0  # recovered


def test_limiter_never_allows_more_than_the_budget_per_window() -> None:
    clock = Clock()
    limiter = BackoffLimiter(5, window_s=60, backoff_s=0.5, clock=clock)
    allowed: list[float] = []
    for _ in range(2000):  # an attacker retrying every 0.1 s for 200 s
        if limiter.retry_after("ip") == 0:
            allowed.append(clock.now)
            limiter.record("ip")
        clock.advance(0.1)
    for start in allowed:
        in_window = [t for t in allowed if start <= t < start + 60]
        assert len(in_window) <= 5


def test_limiter_back_off_grows_and_is_capped() -> None:
    clock = Clock()
    limiter = BackoffLimiter(1, window_s=1, backoff_s=10, max_backoff_s=35, clock=clock)
    waits = []
    for _ in range(4):
        waits.append(limiter.record("k"))
        clock.advance(waits[-1])
    assert waits == [10, 20, 35, 35]
    clock.advance(35)  # quiet for max_backoff_s after the last lockout: escalation forgotten
    assert limiter.record("k") == 10


def test_limiter_memory_is_bounded() -> None:
    clock = Clock()
    limiter = BackoffLimiter(2, window_s=60, clock=clock, max_keys=100)
    for i in range(1000):
        limiter.record(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) <= 100
    limiter.record("hot")
    limiter.record("hot")
    assert limiter.retry_after("hot") > 0  # the newest keys are kept


def test_ip_keys_and_retry_after_text() -> None:
    assert ip_key("203.0.113.7") == "203.0.113.7"
    assert ip_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert ip_key("2001:db8:1:2:3:4:5:6") == ip_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    error = RateLimited(11.2)
    assert error.code == "rate_limited" and retry_after_s(error.message) == 12
    assert retry_after_s("nothing here") is None


# --------------------------------------------------------------------------------- bans


def test_bans_by_account_and_range_expire_and_show_a_reason() -> None:
    clock = Clock(1_700_000_000.0)
    bans = BanList(clock)
    bans.add(ActiveBan(1, "botting", clock.now + 3600, account_id=7, account_name="eve"))
    bans.add(ActiveBan(2, "spam", None, network=parse_network("198.51.100.0/24")))
    bans.add(ActiveBan(3, "short", clock.now + 60, account_id=7))
    ban = bans.for_account(7)
    assert ban is not None and ban.id == 1  # the longest one wins
    assert "botting" in bans.message_for(ban) and "3600 s from now" in bans.message_for(ban)
    assert bans.for_account(8) is None
    net_ban = bans.for_ip("198.51.100.99")
    assert net_ban is not None and bans.message_for(net_ban) == "banned permanently: spam"
    assert bans.for_ip("::ffff:198.51.100.1") is not None
    assert bans.for_ip("198.51.101.1") is None and bans.for_ip("2001:db8::1") is None
    clock.advance(3600)
    assert bans.for_account(7) is None  # expired
    assert [b.id for b in bans.in_force()] == [2]
    assert bans.lift(lambda b: b.network is not None) == 1
    assert bans.for_ip("198.51.100.99") is None


def test_ban_parsing() -> None:
    assert parse_duration("90s") == 90 and parse_duration("15m") == 900
    assert parse_duration("2h") == 7200 and parse_duration("7d") == 7 * 86400
    assert parse_duration("1w") == 7 * 86400
    assert parse_duration("0m") is None and parse_duration("alice") is None
    assert str(parse_network("203.0.113.7")) == "203.0.113.7/32"
    assert str(parse_network("203.0.113.9/24")) == "203.0.113.0/24"
    assert str(parse_network("::ffff:10.0.0.0/104")) == "10.0.0.0/8"
    assert parse_network("alice") is None


# -------------------------------------------------------------------------------- queue


def test_queue_positions_move_as_players_leave_or_get_in() -> None:
    clock = Clock()
    queues = LoginQueues(max_per_world=3, clock=clock)
    assert [queues.join("W", a, f"conn{a}") for a in (1, 2, 3)] == [1, 2, 3]
    with pytest.raises(QueueFull):
        queues.join("W", 4, "conn4")
    assert queues.join("W", 2, "conn2-again") == 2  # joining again keeps the place
    queues.leave(1)
    assert [(w.account_id, p) for w, p in queues.moved("W")] == [(2, 1), (3, 2)]
    assert queues.moved("W") == []  # told already
    queues.population_changed("W", 10)
    assert queues.pop_admitted("W", population=10, capacity=10) == []
    admitted = queues.pop_admitted("W", population=9, capacity=10)
    assert [w.account_id for w in admitted] == [2] and admitted[0].contact == "conn2-again"
    assert queues.position(3) == 1 and queues.world_of(2) is None


def test_queue_holds_slots_for_unused_tickets_until_absorbed_or_expired() -> None:
    clock = Clock()
    queues = LoginQueues(clock=clock)
    queues.population_changed("W", 8)
    queues.hold("W", 1, clock.now + 30)
    queues.hold("W", 2, clock.now + 30)
    assert queues.free_slots("W", 8, 10) == 0  # both slots are held by tickets
    queues.population_changed("W", 9)  # one of them arrived
    assert queues.held("W") == 1 and queues.free_slots("W", 9, 10) == 0
    clock.advance(30)  # the other ticket expired unused: its slot is free again
    assert queues.free_slots("W", 9, 10) == 1


def test_queue_absorbs_tickets_issued_before_the_first_heartbeat() -> None:
    clock = Clock()
    queues = LoginQueues(clock=clock)
    # a world just announced: the world list counts it as empty until it heartbeats
    assert queues.free_slots("W", 0, 1) == 1
    queues.hold("W", 1, clock.now + 30)
    queues.population_changed("W", 1)  # the first heartbeat: the ticket was used
    assert queues.held("W") == 0
    queues.population_changed("W", 0)  # that player left: the slot is free at once
    assert queues.free_slots("W", 0, 1) == 1


def test_queue_leave_only_for_the_same_contact() -> None:
    queues = LoginQueues()
    queues.join("W", 1, "old")
    queues.join("W", 1, "new")
    assert queues.leave(1, contact="old") is None  # a stale connection closing
    assert queues.leave(1, contact="new") == "W"


# ------------------------------------------------------------------- world list + gate


class FakeConn:
    """Just enough of RpcConnection for WorldGate: identity, state, notify, on_close."""

    def __init__(self, account_id: int, name: str) -> None:
        self.identity = Identity("player", name, account_id)
        self.state: dict[str, Any] = {}
        self.sent: list[tuple[str, tuple[Any, ...]]] = []
        self.closed = _Event()

    def notify(self, method: str, *params: Any) -> None:
        self.sent.append((method, params))

    def on_close(self, callback: Any) -> None:
        pass


class _Event:
    def is_set(self) -> bool:
        return False


def _gate(clock: Clock, capacity: int = 2,
          timeout_s: float = 3.0) -> tuple[WorldGate, WorldRegistry]:
    registry = WorldRegistry(timeout_s, clock=clock)
    registry.announce(AnnounceWorld("W", "127.0.0.1", 2006, "127.0.0.1", 7001, capacity))
    gate = WorldGate(registry, LoginQueues(clock=clock), lambda world: b"k" * 32, 30.0,
                     MasterMetrics(), clock)
    return gate, registry


def test_world_list_shows_full_and_down_after_missed_heartbeats() -> None:
    clock = Clock()
    gate, registry = _gate(clock)
    registry.heartbeat("W", 1, "up")
    assert [(w.status, w.population) for w in gate.listing()] == [("up", 1)]
    registry.heartbeat("W", 2, "up")
    assert gate.listing()[0].status == "full"
    registry.heartbeat("W", 0, "rebooting")
    assert gate.listing()[0].status == "rebooting"
    clock.advance(3.1)  # no heartbeat within the timeout
    assert [(w.status, w.population) for w in gate.listing()] == [("down", 0)]


def test_gate_tickets_while_room_then_queue_then_ready() -> None:
    clock = Clock(1_700_000_000.0)
    gate, registry = _gate(clock, capacity=2)
    def beat(population: int) -> None:  # what the master does on a daemon's heartbeat
        registry.heartbeat("W", population, "up")
        gate.heartbeat("W")

    beat(0)
    players = [FakeConn(i, f"p{i}") for i in range(1, 5)]
    first = gate.enter(players[0], "W")  # type: ignore[arg-type]
    second = gate.enter(players[1], "W")  # type: ignore[arg-type]
    assert isinstance(first, WorldEntry) and isinstance(second, WorldEntry)
    ticket = TicketRedeemer(b"k" * 32, kind="world", clock=clock).redeem(first.ticket, "W/0")
    assert (ticket.account_id, ticket.account_name) == (1, "p1")
    third = gate.enter(players[2], "W")  # type: ignore[arg-type]
    fourth = gate.enter(players[3], "W")  # type: ignore[arg-type]
    assert third == QueuePlace("W", 1) and fourth == QueuePlace("W", 2)
    assert gate.listing()[0].queue == 2 and gate.listing()[0].status == "full"
    beat(2)  # both tickets were used
    assert players[2].sent == []
    beat(1)  # someone left
    assert [m for m, _ in players[2].sent] == ["queue_ready"]
    assert players[3].sent == [("queue_position", ("W", 1))]
    with pytest.raises(RpcError) as unknown:
        gate.enter(players[0], "Nowhere")  # type: ignore[arg-type]
    assert unknown.value.code == "no_such_world"
    clock.advance(10)
    with pytest.raises(RpcError) as down:
        gate.enter(players[0], "W")  # type: ignore[arg-type]
    assert down.value.code == "world_down"


# ------------------------------------------------------------------------ rules, metrics


def test_name_and_password_rules() -> None:
    assert name_problem("alice") is None
    assert name_problem("al") and name_problem("9lives") and name_problem("bad name")
    assert "reserved" in (name_problem("Admin") or "")
    for name in ("admin\n", "root\n", "abcdefghijklmnopqrst\n", "alice\n", "al\nice"):
        assert name_problem(name), repr(name)  # `$` would have let a trailing newline through
    assert parse_duration("30m\n") == 1800 and parse_duration("3\n0m") is None
    assert password_problem("short") and password_problem(" padded password ")
    assert password_problem("alice_1234", "Alice_1234")
    assert password_problem("correct horse", "alice") is None


def test_metrics_render_prometheus_text() -> None:
    metrics = MasterMetrics()
    metrics.logins.labels("ok").inc()
    metrics.logins.labels("auth_failed").inc(2)
    metrics.latency.labels("login_finish").observe(0.003)
    metrics.live_gauge("shardkit_master_queue_length", "Waiting.", lambda: {("W",): 3}, ("world",))
    text = metrics.render().decode()
    assert '# TYPE shardkit_master_logins_total counter' in text
    assert 'shardkit_master_logins_total{result="auth_failed"} 2.0' in text
    assert 'shardkit_master_request_seconds_bucket{le="0.0025",method="login_finish"} 0.0' in text
    assert 'shardkit_master_request_seconds_bucket{le="0.005",method="login_finish"} 1.0' in text
    assert 'shardkit_master_request_seconds_count{method="login_finish"} 1.0' in text
    assert 'shardkit_master_queue_length{world="W"} 3.0' in text
    assert "process_cpu_seconds_total" in text  # prometheus-client's own process metrics
    assert metrics.value("shardkit_master_logins_total", result="auth_failed") == 2
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["shardkit_master_logins"].type == "counter"
    assert families["shardkit_master_request_seconds"].type == "histogram"

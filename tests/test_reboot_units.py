"""Units of planned reboots: countdown marks, the daily schedule (injected clock), the reboot flow,
the client's following of its world, and zones' retried final saves."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import msgspec
import pytest

from shardkit.characters.schemas import SaveResult
from shardkit.client.events import ClientState
from shardkit.client.follow import WorldFollower
from shardkit.config.settings import RebootSchedule
from shardkit.daemon.clusters import ClusterRegistry
from shardkit.daemon.reboot import Rebooter, countdown_marks, warning_text
from shardkit.daemon.schedule import ScheduledReboots, next_countdown, skipped
from shardkit.daemon.schemas import RegisterCluster
from shardkit.store.character_types import CharacterState
from shardkit.wire.rpc import RpcError
from shardkit.world.going_down import PlannedStop
from shardkit.world.notifications import GoingDown
from shardkit.world.players import Players
from shardkit.zone.save_retry import SaveRetries

DAY = 86400.0
H = 3600.0


class Clock:
    """A Unix clock that only moves when someone sleeps."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


# ------------------------------------------------------------------ countdown
def test_countdown_warns_each_minute_of_the_last_ten_then_each_ten_seconds() -> None:
    assert countdown_marks(3600) == [3600, 600, 540, 480, 420, 360, 300, 240, 180, 120, 60,
                                     50, 40, 30, 20, 10]
    assert countdown_marks(125) == [125, 120, 60, 50, 40, 30, 20, 10]
    assert countdown_marks(3) == [3]
    assert countdown_marks(0) == []


def test_warning_text_says_what_when_and_when_back() -> None:
    text = warning_text("reboot", 300, 15, "The world Atlantis")
    assert text.startswith("The world Atlantis reboots in 5 minutes; your character is saved")
    assert "back in about 15 s" in text
    assert warning_text("shutdown", 0, 0, "The world Atlantis").startswith(
        "The world Atlantis shuts down now")


# ------------------------------------------------------------------- schedule
def test_schedule_is_off_by_default() -> None:
    assert next_countdown(1000.0, RebootSchedule()) is None


def test_countdown_starts_before_the_daily_time_today_or_tomorrow() -> None:
    schedule = RebootSchedule(daily_at="04:30", countdown_s=600)
    day = 20 * DAY
    assert next_countdown(day, schedule) == day + 4 * H + 20 * 60
    assert next_countdown(day + 5 * H, schedule) == day + DAY + 4 * H + 20 * 60


def test_a_recent_reboot_skips_the_scheduled_one() -> None:
    schedule = RebootSchedule(daily_at="04:30", skip_within_h=6)
    at = 20 * DAY + 4.5 * H
    assert skipped(at, at - 2 * H, schedule)
    assert not skipped(at, at - 7 * H, schedule)
    assert not skipped(at, None, schedule)


async def test_scheduled_reboots_start_on_time_and_skip_after_a_recent_one() -> None:
    clock = Clock(20 * DAY + 1 * H)
    started: list[tuple[float, float]] = []
    last: list[float | None] = [None]
    schedule = RebootSchedule(daily_at="04:30", countdown_s=600, skip_within_h=6)
    reboots = ScheduledReboots(schedule, lambda s: started.append((clock(), s)),
                               lambda: last[0], clock=clock, sleep=clock.sleep)
    assert await reboots.step()
    assert started == [(20 * DAY + 4 * H + 20 * 60, 600)]
    last[0] = 20 * DAY + 12 * H  # someone rebooted it by hand at noon
    assert await reboots.step()  # tomorrow's is 16.5 h after noon: it runs
    assert len(started) == 2 and started[1][0] == 21 * DAY + 4 * H + 20 * 60
    last[0] = 22 * DAY + 1 * H  # rebooted 3.5 h before the next one: skipped
    assert await reboots.step()
    assert len(started) == 2 and reboots.skips == 1
    assert not await ScheduledReboots(RebootSchedule(), lambda s: None, lambda: None,
                                      clock=clock, sleep=clock.sleep).step()


# ---------------------------------------------------------------- reboot flow
class FakeWorldServer:
    def __init__(self) -> None:
        self.notices: list[GoingDown] = []

    def notify(self, method: str, *params: Any) -> None:
        assert method == "going_down"
        self.notices.append(GoingDown(*params))

    def on_close(self, callback: Any) -> None:
        pass


class FakeServers:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.rebooter: Rebooter | None = None

    async def stop_cluster(self, number: int) -> None:
        self.calls.append(f"stop {number}")

    async def start_cluster(self, number: int) -> None:
        self.calls.append(f"start {number}")
        assert self.rebooter is not None
        asyncio.get_running_loop().call_soon(self.rebooter.registered, number)


async def test_reboot_counts_down_tells_everyone_stops_starts_and_waits() -> None:
    clusters = ClusterRegistry("Atlantis")
    ws = FakeWorldServer()
    clusters.register(ws, RegisterCluster(0, "127.0.0.1", 2006))  # type: ignore[arg-type]
    servers = FakeServers()
    clock = Clock(1000.0)
    stopped: list[bool] = []
    rebooter = Rebooter(clusters, servers, on_shutdown=lambda: stopped.append(True),
                        sleep=clock.sleep, clock=clock)
    servers.rebooter = rebooter
    answer = await rebooter.start("reboot", [0], 125)
    assert answer.startswith("Atlantis rebooted in")
    assert [n.in_s for n in ws.notices] == [125, 120, 60, 50, 40, 30, 20, 10, 0]
    assert all(n.reason == "reboot" and n.back_in_s > 0 for n in ws.notices)
    assert sum(clock.slept) == 125
    assert servers.calls == ["stop 0", "start 0"]
    assert rebooter.last_reboot == 1125 and not rebooter.rebooting and not stopped

    ws.notices.clear()
    assert await rebooter.start("shutdown", [0], 5) == "Atlantis shut down"
    assert [(n.reason, n.in_s, n.back_in_s) for n in ws.notices] == [
        ("shutdown", 5, 0), ("shutdown", 0, 0)]
    assert stopped == [True] and servers.calls == ["stop 0", "start 0"]


async def test_a_countdown_can_be_called_off_and_only_one_runs_at_a_time() -> None:
    clusters = ClusterRegistry("Atlantis")
    never = asyncio.Event()

    async def slow(seconds: float) -> None:
        await never.wait()

    rebooter = Rebooter(clusters, FakeServers(), on_shutdown=lambda: None, sleep=slow)
    task = rebooter.start("reboot", [0], 600)
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        rebooter.start("reboot", [0], 600)
    assert rebooter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not rebooter.busy and not rebooter.cancel()


# ------------------------------------------------------------------ following
class FakeClient:
    def __init__(self, failures: list[RpcError | OSError]) -> None:
        self.state = ClientState()
        self.world: Any = None
        self.world_name = "Atlantis"
        self.character = "Hero"
        self.entered: Any = object()
        self.failures = failures
        self.game_failures: list[RpcError | OSError] = []
        self.calls: list[str] = []

    def changed(self) -> None:
        pass

    async def enter_world(self, name: str, port: int | None = None) -> None:
        self.calls.append(f"world {name}")
        if self.failures:
            raise self.failures.pop(0)

    async def enter_game(self, character: str) -> None:
        self.calls.append(f"game {character}")
        if self.game_failures:
            raise self.game_failures.pop(0)


async def test_follower_retries_until_the_world_is_back_then_enters_the_game() -> None:
    client = FakeClient([RpcError("world_down", "down"), OSError("refused"),
                         RpcError("zone_down", "later")])
    client.state.going_down = GoingDown("reboot", 0, 15, "reboots now")
    clock = Clock(0)
    follower = WorldFollower(client, sleep=clock.sleep)
    assert await follower.rejoin()
    assert client.calls[-2:] == ["world Atlantis", "game Hero"]
    assert client.calls.count("world Atlantis") == 4
    assert client.state.rejoined == 1 and client.state.world_lost is None
    assert clock.slept == [0.3, 0.6, 1.2, 2.4]
    assert any("rebooting" in n for n in client.state.notices)
    assert client.state.notices[-1] == "back in Atlantis as Hero"


async def test_follower_gives_up_on_a_lasting_error_and_says_so() -> None:
    client = FakeClient([RpcError("no_such_character", "gone")])
    follower = WorldFollower(client, sleep=Clock(0).sleep)
    assert not await follower.rejoin()
    assert client.state.rejoin_failed is not None
    assert "choose your character again" in client.state.rejoin_failed
    assert client.state.rejoined == 0

    tries = FakeClient([RpcError("world_down", "down")] * 100)
    assert not await WorldFollower(tries, sleep=Clock(0).sleep).rejoin()
    assert len(tries.calls) == 14  # bounded


async def test_following_a_portal_tries_at_once_then_waits_for_the_way_to_open() -> None:
    client = FakeClient([])
    client.game_failures = [RpcError("world_down", "WorldServer 1 is restarting"),
                            OSError("refused")]
    clock = Clock(0)
    assert await WorldFollower(client, sleep=clock.sleep).follow_portal("harbor")
    assert client.calls == ["game Hero"] * 3 and clock.slept == [0.3, 0.6]  # first at once
    assert client.state.notices == [
        "the way to harbor is not open yet (world_down: WorldServer 1 is restarting);"
        " trying again"]  # told once, not at every try


async def test_following_a_portal_gives_up_on_a_lasting_error_or_when_turned_off() -> None:
    client = FakeClient([])
    client.game_failures = [RpcError("no_such_character", "gone")]
    follower = WorldFollower(client, sleep=Clock(0).sleep)
    assert not await follower.follow_portal("harbor")
    assert client.calls == ["game Hero"]
    assert client.state.notices[-1] == (
        "could not follow the portal to harbor: no_such_character: gone")

    closing = FakeClient([])
    closing.game_failures = [RpcError("world_down", "down")] * 100
    follower = WorldFollower(closing, sleep=Clock(0).sleep)

    async def turned_off(seconds: float) -> None:
        follower.enabled = False  # the client closes while it waits

    follower.sleep = turned_off
    assert not await follower.follow_portal("harbor")
    assert closing.calls == ["game Hero"]
    assert not any("could not follow" in n for n in closing.state.notices)


# ---------------------------------------------------------------- save retries
def _state(cid: int, account: int) -> CharacterState:
    return CharacterState(id=cid, account_id=account, name=f"C{cid}", world="Atlantis",
                          zone="town", x=1.0, y=2.0, version=3)


async def test_final_saves_wait_and_are_retried_until_acknowledged() -> None:
    answers: list[Any] = [RpcError("unavailable", "away"), RpcError("unavailable", "away")]
    saved: list[int] = []

    async def save(state: CharacterState, final: bool) -> SaveResult:
        assert final
        if answers:
            raise answers.pop(0)
        saved.append(state.id)
        return SaveResult(state.id, True, state.version + 1)

    clock = Clock(0)
    retries = SaveRetries(save, sleep=clock.sleep)
    retries.add(_state(7, 70))
    with pytest.raises(RpcError) as refused:
        await retries.settle(70)  # the account may not enter before its save is made
    assert refused.value.code == "unavailable"
    await retries.settle(71)  # another account is not held up
    for _ in range(50):
        if not retries.waiting:
            break
        await asyncio.sleep(0)
    assert saved == [7] and len(retries) == 0
    assert await retries.flush(1.0) == 0


# --------------------------------------------------------------- planned stop
class FakePlayer:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send_encoded(self, data: bytes) -> None:
        self.sent.append(data)


def _told(player: FakePlayer) -> list[GoingDown]:
    return [GoingDown(*msgspec.msgpack.decode(data)[2]) for data in player.sent]


def test_a_world_server_passes_the_countdown_on_and_knows_its_stop_is_planned() -> None:
    players = [FakePlayer(), FakePlayer()]
    planned = PlannedStop(cast(Players, players), "Atlantis/0")
    planned.going_down(cast(Any, None), GoingDown("reboot", 60, 15, "in a minute"))
    assert planned.planned == ""  # a warning, not the stop yet
    planned.going_down(cast(Any, None), GoingDown("reboot", 0, 15, "now"))
    assert planned.planned == "reboot"
    planned.stopping()  # the SIGTERM that follows: players were told already
    assert [n.in_s for n in _told(players[0])] == [60, 0]
    assert _told(players[1]) == _told(players[0])

    unannounced = PlannedStop(cast(Players, players[:1]), "Atlantis/1")
    unannounced.stopping()  # stopped by a signal with no countdown: players are told so
    last = _told(players[0])[-1]
    assert (last.reason, last.in_s, last.back_in_s) == ("stop", 0, 0)
    assert unannounced.planned == "stop"

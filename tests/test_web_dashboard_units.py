"""The dashboard's parts without a cluster: the sampler's figures and ring buffer, who logged in
over a bridge link, and the admin gate of /dashboard/status.json."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import msgpack
import pytest
from aiohttp import web

from shardkit.web.cluster_watch import ClusterWatch, parse_metrics, read_targets
from shardkit.web.dashboard import Dashboard
from shardkit.web.logins import LoggedIn, LoginWatch
from shardkit.web.targets import Address, SessionTable

TOWN = 'world="Atlantis",cluster="0",zone="town"'
WORLD_METRICS = """\
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1000.0
# TYPE shardkit_world_players gauge
shardkit_world_players{{world="Atlantis",cluster="0"}} 3.0
# TYPE shardkit_world_zones_up gauge
shardkit_world_zones_up{{world="Atlantis",cluster="0"}} 2.0
# TYPE shardkit_world_zone_players gauge
shardkit_world_zone_players{{world="Atlantis",cluster="0",zone="town"}} 3.0
# TYPE shardkit_world_zone_starts gauge
shardkit_world_zone_starts{{world="Atlantis",cluster="0",zone="town"}} 1.0
shardkit_world_zone_starts{{world="Atlantis",cluster="0",zone="meadow"}} 2.0
# TYPE shardkit_world_zone_tick_seconds histogram
shardkit_world_zone_tick_seconds_bucket{{{TOWN},le="0.001"}} {fast}
shardkit_world_zone_tick_seconds_bucket{{{TOWN},le="0.05"}} {count}
shardkit_world_zone_tick_seconds_bucket{{{TOWN},le="+Inf"}} {count}
shardkit_world_zone_tick_seconds_sum{{world="Atlantis",cluster="0",zone="town"}} {total}
shardkit_world_zone_tick_seconds_count{{world="Atlantis",cluster="0",zone="town"}} {count}
"""

DAEMON_METRICS = """\
# TYPE shardkit_daemon_world_servers_up gauge
shardkit_daemon_world_servers_up{world="Atlantis"} 1.0
# TYPE shardkit_daemon_world_servers_configured gauge
shardkit_daemon_world_servers_configured{world="Atlantis"} 1.0
# TYPE shardkit_daemon_world_server_restarts counter
shardkit_daemon_world_server_restarts_total{world="Atlantis",cluster="0"} 2.0
"""


def test_targets_file_is_read_defensively(tmp_path: Path) -> None:
    path = tmp_path / "targets.json"
    assert read_targets(path) == {}  # none yet
    path.write_text("not json")
    assert read_targets(path) == {}
    path.write_text(json.dumps([{"targets": ["127.0.0.1:1"], "labels": {"shardkit_process":
                                                                        "master"}},
                                {"targets": [], "labels": {"shardkit_process": "gm"}}, 7]))
    assert read_targets(path) == {"master": "127.0.0.1:1"}


def test_zone_figures_are_over_the_last_interval_and_history_is_bounded(tmp_path: Path) -> None:
    now = [5000.0]
    watch = ClusterWatch(tmp_path / "none.json", interval_s=5.0, history_s=15.0,
                         clock=lambda: now[0])
    targets = {"master": "m:1", "daemon Atlantis": "d:2", "world Atlantis/0": "w:3",
               "world Atlantis/1": "w:4"}
    status = {"uptime_s": 9.0, "sessions": 3, "queued": 0,
              "worlds": [{"name": "Atlantis", "status": "up", "population": 3, "capacity": 10,
                          "queue": 0}]}
    samples = [(100, 100, 0.1), (200, 110, 0.4)]  # (count, fast ones, sum): 100 slow ticks
    views = []
    for count, fast, total in samples:
        scrapes = {"daemon Atlantis": parse_metrics(DAEMON_METRICS),
                   "world Atlantis/0": parse_metrics(WORLD_METRICS.format(
                       TOWN=TOWN, count=count, fast=fast, total=total)),
                   "master": parse_metrics(
                       "# TYPE shardkit_master_logins counter\n"
                       f'shardkit_master_logins_total{{result="ok"}} {count}\n')}
        snapshot = watch._snapshot(targets, scrapes, status)
        watch._previous = scrapes
        watch.history.append(snapshot.pop("point"))
        views.append(snapshot)
        now[0] += 5.0
    world = views[1]["worlds"][0]
    assert [s["state"] for s in world["world_servers"]] == ["up", "down"]
    first = world["world_servers"][0]
    assert (first["uptime_s"], first["restarts"], first["players"]) == (4005.0, 2, 3)
    zones = {z["name"]: z for z in world["zones"]}
    assert set(zones) == {"town", "meadow"} and zones["meadow"]["starts"] == 2
    assert zones["town"]["tick_ms"] == 3.0  # (0.4 - 0.1) s over 100 ticks
    assert zones["town"]["tick_p99_ms"] == 50.0  # 90 of those 100 were over 1 ms
    assert zones["meadow"]["tick_ms"] is None
    assert world["daemon"]["world_servers_up"] == 1
    assert [p["logins"] for p in watch.history] == [0, 100]
    for _ in range(5):
        watch.history.append({"at": 0})
    assert len(watch.history) == 3  # an hour of samples at most (here 15 s)


def frame(message: object) -> bytes:
    return bytes(msgpack.packb(message))


def test_the_login_watch_believes_only_the_masters_answer_to_login_finish() -> None:
    watch = LoginWatch()
    account = {"account_id": 7, "name": "Ada", "role": "admin"}
    assert watch.server_sent(frame([1, 4, None, {"account": account}])) is None  # not asked
    watch.browser_sent(frame([0, 4, "login_finish", ["c=biws,r=x,p=y"]]))
    assert watch.server_sent(frame([1, 3, None, {"account": account}])) is None  # other id
    assert watch.server_sent(frame([1, 4, None, {"account": account}])) == \
        LoggedIn(7, "Ada", "admin")
    assert watch.server_sent(frame([1, 4, None, {"account": account}])) is None  # once
    watch.browser_sent(frame([0, 5, "login_finish", ["c=biws,r=x,p=z"]]))
    assert watch.server_sent(frame([1, 5, {"code": "auth_failed", "message": "no"}, None])) \
        is None


class FakeLink:
    def close_link(self, code: int, reason: str) -> None:
        pass


@pytest.mark.parametrize("role, expected", [(None, 401), ("player", 403), ("gm", 403),
                                            ("admin", 200)])
async def test_status_json_is_for_admins_of_a_live_session(
        tmp_path: Path, role: str | None, expected: int) -> None:
    sessions = SessionTable(Address("127.0.0.1", 1), idle_timeout_s=60, linger_s=60,
                            max_sessions=10)
    session = sessions.open("127.0.0.1")
    assert session is not None
    link = FakeLink()
    sessions.attach(session, link)
    if role is not None:
        sessions.logged_in(session, link, LoggedIn(1, "Ada", role))
    app = web.Application()
    Dashboard(ClusterWatch(tmp_path / "none.json"), sessions, tmp_path).add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/dashboard/status.json"
    try:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {session.token}"}
            async with http.get(url, headers=headers) as answer:
                assert answer.status == expected
            sessions.detach(session, link)  # the master link closed: no account any more
            async with http.get(url, headers=headers) as answer:
                assert answer.status == 401
    finally:
        await runner.cleanup()

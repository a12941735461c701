"""One world on four network hosts (Linux namespaces): master, GM and character server on
host 1; the daemon and one WorldServer on host 2; a WorldImp and the WorldServer it starts on
host 3; the player on host 4. Every process binds its host's own address, none loopback.

The cable between host 3 and host 2 is pulled for 10 s: the player, who reaches host 3's
WorldServer over the bridge, keeps playing; the imp notices, re-dials and is linked again
once the cable is back; then the player walks through a portal into the zone of host 2's
WorldServer; every save acknowledged to the player is in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from netns_support import NetworkHosts, namespaces_unavailable
from test_durability import stored_character
from zone_support import CONTENT

from shardkit.client.session import GameClient
from shardkit.config.defaults import ensure_config
from shardkit.config.settings import Settings, load_settings
from shardkit.daemon.api import DaemonApi
from shardkit.daemon.layout_schemas import WorldLayout
from shardkit.store.database import Database
from shardkit.testing.harness import RunningProcess
from shardkit.wire.handshake import authenticate_service
from shardkit.wire.rpc import connect

pytestmark = pytest.mark.cluster

CUT_S = 10.0
DAEMON_HOST = 2
WEST_DOOR = (3.0, 45.0)  # the arena's portal to the field (tests/zone_content/zones.toml)


def server_toml(address: str, content: Path) -> str:
    return f"""
[cluster]
data_dir = "data"
content_dir = "{content}"
bind = "{address}"
public_address = "{address}"
metrics_host = "{address}"
[master]
host = "10.213.0.1"
port = 2002
heartbeat_timeout_s = 3.0
status_host = "{address}"
status_port = 0
[master.manhole]
host = "{address}"
port = 8192
[gm]
host = "10.213.0.1"
port = 1998
[characters]
save_interval_s = 0.5
[web]
enabled = false
"""


def world_toml(address: str) -> str:
    return f"""
name = "Atlantis"
capacity = 100
world_port = 2006
ssh_port = 0
zone_base_port = 0
tick_hz = 20.0
[supervision]
imp_heartbeat_s = 0.5
imp_timeout_s = 2.0
[daemon]
host = "10.213.0.{DAEMON_HOST}"
[daemon.console]
host = "{address}"
[ssh]
host = "{address}"
[[clusters]]
number = 0
zones = ["arena"]
runs_on = "imp:imp3"
[[clusters]]
number = 1
zones = ["field"]
runs_on = "local"
"""


def host_roots(tmp_path: Path, hosts: NetworkHosts) -> dict[int, Path]:
    """One serverconfig/ per host (its own addresses), all with the same secrets."""
    roots = {}
    content = peaceful_content(tmp_path / "content")
    for host in (1, 2, 3):
        root = tmp_path / f"host{host}"
        config = root / "serverconfig"
        (config / "worlds").mkdir(parents=True)
        (config / "server.toml").write_text(server_toml(hosts.address(host), content))
        (config / "worlds" / "Atlantis.toml").write_text(world_toml(hosts.address(host)))
        if host == 1:
            ensure_config(root)
        else:
            secrets = (roots[1] / "serverconfig" / "secrets.toml").read_bytes()
            (config / "secrets.toml").write_bytes(secrets)
            os.chmod(config / "secrets.toml", 0o600)
        roots[host] = root
    return roots


def peaceful_content(folder: Path) -> Path:
    """The zone tests' content without the arena's brute, so a long walk meets no killer."""
    folder.mkdir()
    for source in CONTENT.glob("*.toml"):
        text = source.read_text()
        if source.name == "zones.toml":
            brute = '[[zones.arena.npcs]]\nkind = "brute"\ncount = 1\n'
            start = text.index(brute)
            end = text.index("\n\n", start) + 2
            text = text[:start] + text[end:]
        (folder / source.name).write_text(text)
    return folder


@pytest.fixture
def hosts() -> Iterator[NetworkHosts]:
    reason = namespaces_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    made = NetworkHosts(4)
    try:
        made.build()
        made.direct(3, DAEMON_HOST)  # the imp's own cable to the daemon's host
        yield made
    finally:
        made.teardown()


async def layout(settings: Settings) -> WorldLayout:
    conn = await connect(f"10.213.0.{DAEMON_HOST}", settings.worlds["Atlantis"].daemon.world_port)
    try:
        await authenticate_service(conn, role="world", name="Atlantis/status", peer_role="daemon",
                                   secret=settings.secrets.world_link_key("Atlantis"))
        return await DaemonApi(conn).world_layout()
    finally:
        conn.close()


async def until(check: Callable[[WorldLayout], bool], settings: Settings,
                timeout: float) -> WorldLayout:
    deadline = time.monotonic() + timeout
    last: WorldLayout | None = None
    while time.monotonic() < deadline:
        try:
            last = await layout(settings)
            if check(last):
                return last
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"the layout never got there: {last}")


def imp_linked(state: WorldLayout, linked: bool = True) -> bool:
    return any(imp.name == "imp3" and imp.linked is linked for imp in state.imps)


def all_running(state: WorldLayout) -> bool:
    return all(c.state == "running" for c in state.clusters) and imp_linked(state)


async def play(hosts: NetworkHosts, settings: Settings) -> tuple[list[int], dict[str, object]]:
    """The player's part, run on host 4: returns the acknowledged save versions and facts."""
    facts: dict[str, object] = {}
    placed = await until(all_running, settings, timeout=120)
    cluster0 = next(c for c in placed.clusters if c.number == 0)
    assert cluster0.host == "imp:imp3" and cluster0.address.startswith("10.213.0.3:"), placed
    client = GameClient("10.213.0.1", 2002)
    saved: list[int] = []
    try:
        await client.register("wanderer", "over the wire")
        await client.login("wanderer", "over the wire")
        for _ in range(50):  # the master may still list the first WorldServer that registered
            await client.enter_world("Atlantis")
            assert client.world is not None
            if client.world.peer_ip == hosts.address(3):
                break
            await asyncio.sleep(0.2)
        assert client.world.peer_ip == hosts.address(3)
        await client.create_character("Roamer")
        entered = await client.enter_game("Roamer")
        assert entered.zone == "arena"
        assert client.zone is not None and client.zone.peer_ip == hosts.address(3)
        me = entered.entity_id
        await client.wait_for(lambda s: me in s.seen)

        async def walk(seconds: float) -> tuple[int, float]:
            """Move about for a while; the syncs seen and how far we got, by the zone's word."""
            start_syncs, start = client.state.snapshots, client.state.seen[me]
            deadline = time.monotonic() + seconds
            step = 0
            while time.monotonic() < deadline:
                step += 1
                client.move(1.0 if step % 40 < 20 else -1.0, 0.3)
                await asyncio.sleep(0.05)  # a player's pace: 20 moves a second
                if client.state.saved is not None and (not saved or
                                                       client.state.saved.version > saved[-1]):
                    saved.append(client.state.saved.version)
                assert client.state.kicked is None and client.state.zone_lost is None
            now = client.state.seen[me]
            return client.state.snapshots - start_syncs, abs(now.x - start.x) + abs(now.y - start.y)

        syncs, moved = await walk(3.0)
        assert syncs > 20 and moved > 0.5 and saved, (syncs, moved, saved)
        before_cut = len(saved)

        # pull the imp's cable out for 10 s: the player keeps playing over the bridge
        await asyncio.to_thread(hosts.cut, 3, DAEMON_HOST)
        cut_at = time.monotonic()

        async def noticed() -> WorldLayout:
            state = await until(lambda s: imp_linked(s, False), settings, timeout=CUT_S - 4.5)
            facts["unlinked_after_s"] = time.monotonic() - cut_at
            return state

        noticing = asyncio.create_task(noticed())  # the daemon drops the silent imp link
        syncs, moved = await walk(4.0)
        assert syncs > 30 and moved > 0.5, (syncs, moved)
        unlinked = await noticing
        cluster0 = next(c for c in unlinked.clusters if c.number == 0)
        assert cluster0.state in ("unlinked", "running"), unlinked
        syncs, moved = await walk(max(0.5, CUT_S - (time.monotonic() - cut_at)))
        assert syncs > 5 and moved > 0.1, (syncs, moved)
        await asyncio.to_thread(hosts.mend, 3, DAEMON_HOST)
        facts["cut_s"] = time.monotonic() - cut_at

        # the imp re-dials by itself; the same WorldServer (not restarted) serves on
        back = await until(all_running, settings, timeout=30)
        assert next(c for c in back.clusters if c.number == 0).restarts == 0, back
        mended_saves = len(saved)
        syncs, moved = await walk(3.0)
        deadline = time.monotonic() + 30
        while len(saved) < mended_saves + 2 and time.monotonic() < deadline:
            await walk(0.5)  # saves resume once the daemon is reachable again
        assert len(saved) >= mended_saves + 2, saved
        facts["saves"] = (before_cut, mended_saves, len(saved))

        # through the arena's west door into the field, on the daemon's host (2)
        deadline = time.monotonic() + 30
        while client.entered is None or client.entered.zone != "field":
            assert time.monotonic() < deadline, (client.entered, client.state.notices)
            here = client.state.seen.get(client.entered.entity_id) if client.entered else None
            if here is not None and client.entered is not None and client.entered.zone == "arena":
                dx, dy = WEST_DOOR[0] - here.x, WEST_DOOR[1] - here.y
                length = max(1e-6, (dx * dx + dy * dy) ** 0.5)
                with contextlib.suppress(Exception):  # the zone link may be closing under us
                    client.move(dx / length, dy / length)
            await asyncio.sleep(0.05)
        assert client.zone is not None and client.zone.peer_ip == hosts.address(DAEMON_HOST)
        crossed = client.entered.entity_id
        await client.wait_for(lambda s: crossed in s.seen, timeout=10)
        facts["crossed_to"] = client.zone.peer_ip
        assert await client.leave_game()
    finally:
        await client.close()
    return saved, facts


def test_world_across_four_hosts_survives_a_cut_imp_cable(
        tmp_path: Path, hosts: NetworkHosts) -> None:
    roots = host_roots(tmp_path, hosts)
    processes: list[RunningProcess] = []

    def start(host: int, *args: str) -> RunningProcess:
        process = hosts.start(host, roots[host], *args)
        processes.append(process)
        return process

    try:
        master = start(1, "master")
        master.wait_for_line("master listening on 10.213.0.1:2002", 90)
        start(1, "gm").wait_for_line("gm listening on 10.213.0.1:1998", 90)
        start(1, "characters")
        daemon = start(2, "daemon", "--world", "Atlantis")
        daemon.wait_for_line("daemon Atlantis listening on 10.213.0.2:7000", 90)
        imp = start(3, "imp", "--daemon", "10.213.0.2:7005", "--name", "imp3", "--capacity", "2")
        settings = load_settings(roots[1])
        saved, facts = hosts.in_host(4, lambda: asyncio.run(play(hosts, settings)))
        links = [line for line in imp.lines if "imp imp3 linked to daemon" in line]
        assert len(links) >= 2, "\n".join(imp.lines[-40:])  # linked, and linked again
        print(f"cut {facts['cut_s']:.1f} s; imp unlinked after {facts['unlinked_after_s']:.1f} s;"
              f" saves acknowledged (before cut, after mend, end): {facts['saves']};"
              f" crossed to the field on {facts['crossed_to']}")
        for process in reversed(processes):
            assert process.stop() == 0, "\n".join(process.lines[-40:])

        url = settings.database_url("", "characters.db")

        async def stored_version() -> int:
            db = await Database.open(url, schema="characters")
            try:
                return (await stored_character(db, "Roamer")).version
            finally:
                await db.close()

        assert asyncio.run(stored_version()) >= max(saved)
    finally:
        for process in reversed(processes):
            process.stop(timeout=10)

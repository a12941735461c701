"""A real cluster's web side: /metrics of every process and a whole game through the web bridge."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import msgpack
import pytest
from conftest import Cluster
from prometheus_client.parser import text_string_to_metric_families

from shardkit.client.session import GameClient
from shardkit.web.bridge import CloseCode
from shardkit.web.ws_transport import BridgeDialer, BridgeRefused

PASSWORD = "correct horse battery"
WAIT = 20.0

Samples = dict[str, list[tuple[dict[str, str], float]]]
"""sample (or family) name -> [(labels, value)], from one scrape."""


async def scrape(port: int) -> Samples:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, \
            http.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        samples.setdefault(family.name, [])  # a family declared, even without samples yet
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The value of the sample whose labels include ``labels`` (fails if there is none)."""
    for found, number in samples.get(name, []):
        if labels.items() <= found.items():
            return number
    raise AssertionError(f"no sample {name}{labels}; have {sorted(samples)[:80]}")


async def scrape_until(port: int, ready: Callable[[Samples], bool]) -> Samples:
    """Scrape until ``ready(samples)`` (a process reports some figures every few seconds)."""
    deadline = time.monotonic() + WAIT
    while True:
        samples = await scrape(port)
        if ready(samples) or time.monotonic() > deadline:
            return samples
        await asyncio.sleep(0.5)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def bridge_url(cluster: Cluster) -> str:
    return f"ws://127.0.0.1:{cluster.announced_port('web')}/ws"


def master_target(cluster: Cluster) -> str:
    return f"127.0.0.1:{cluster.master_port}"


# ---------------------------------------------------------------------------- metrics


async def test_every_process_serves_metrics(cluster: Cluster) -> None:
    client = GameClient("127.0.0.1", cluster.master_port)
    try:
        await client.register("Metra", PASSWORD)
        await client.login("Metra", PASSWORD)
        await client.enter_world("Atlantis")
        await client.create_character("Metra")
        await client.enter_game("Metra")
        await client.wait_for(lambda s: client.me() is not None)
        assert await client.leave_game()
    finally:
        await client.close()

    port = cluster.announced_port
    master = await scrape(port("master status page (http)"))
    assert value(master, "shardkit_master_logins_total", result="ok") >= 1
    assert value(master, "shardkit_master_registrations_total", result="ok") >= 1
    assert value(master, "shardkit_master_request_seconds_count", method="login_finish") >= 1
    assert value(master, "shardkit_master_request_seconds_bucket", method="login_finish",
                 le="+Inf") >= 1
    assert value(master, "shardkit_master_world_population", world="Atlantis") >= 0

    characters = await scrape(port("characters metrics (http)"))
    assert value(characters, "shardkit_characters_saves_total", result="ok") >= 1
    assert value(characters, "shardkit_characters_save_seconds_count") >= 1
    assert value(characters, "shardkit_characters_save_batch_size_count") >= 1
    assert value(characters, "shardkit_characters_save_batch_size_bucket", le="500.0") >= 1

    daemon = await scrape(port("daemon Atlantis metrics (http)"))
    assert value(daemon, "shardkit_daemon_world_servers_up", world="Atlantis") == 1
    assert "shardkit_daemon_world_server_restarts" in daemon  # declared; none happened yet

    world = await scrape_until(
        port("world Atlantis/0 metrics (http)"),
        lambda s: any(v > 0 for labels, v in s.get("shardkit_world_zone_tick_seconds_count", [])
                      if labels.get("zone") == "town"))
    assert value(world, "shardkit_world_zone_tick_seconds_count", zone="town") > 0
    assert value(world, "shardkit_world_zone_tick_seconds_bucket", zone="town", le="+Inf") > 0
    assert value(world, "shardkit_world_players", world="Atlantis", cluster="0") >= 0
    assert value(world, "shardkit_world_zone_players", zone="town") >= 0
    assert value(world, "shardkit_world_zones_up") == 2

    zone = await scrape(port("zone Atlantis/town metrics (http)"))
    assert value(zone, "shardkit_zone_tick_seconds_count", zone="town") > 0
    assert value(zone, "shardkit_zone_sent_bytes_total", zone="town") > 0
    assert value(zone, "shardkit_zone_players", zone="town") == 0

    gm = await scrape(port("gm metrics (http)"))
    assert value(gm, "shardkit_gm_audit_events_total") >= 1  # the character was created
    imp = await scrape(port("imp local metrics (http)"))
    assert value(imp, "shardkit_imp_world_servers_running") == 0
    web = await scrape(port("web metrics (http)"))
    assert value(web, "shardkit_web_bridge_links_open") >= 0

    for samples in (master, characters, daemon, world, zone, gm, imp, web):
        assert value(samples, "process_cpu_seconds_total") > 0
        assert value(samples, "process_resident_memory_bytes") > 0


# ----------------------------------------------------------------------------- bridge


async def test_a_whole_game_through_the_bridge(cluster: Cluster,
                                               http: aiohttp.ClientSession) -> None:
    """Register, SCRAM login, world list, world, character, zone: all over WebSockets, with
    the same client code as over TCP."""
    dialer = BridgeDialer(bridge_url(cluster), http)
    client = GameClient("127.0.0.1", cluster.master_port, dial=dialer.dial)
    watcher = GameClient("127.0.0.1", cluster.master_port)  # a player on plain TCP
    try:
        await client.register("Webby", PASSWORD)
        account = await client.login("Webby", PASSWORD)
        assert account.name == "Webby"
        worlds = {w.name: w for w in await client.worlds()}
        assert worlds["Atlantis"].status == "up"
        welcome = await client.enter_world("Atlantis")
        assert welcome.account_name == "Webby"
        await client.create_character("Webby")
        entered = await client.enter_game("Webby")
        assert entered.zone == "town"
        await client.wait_for(lambda s: client.me() is not None)
        assert dialer.kinds == ["master", "master", "world", "zone"]

        await watcher.register("Tcpy", PASSWORD)
        await watcher.login("Tcpy", PASSWORD)
        await watcher.enter_world("Atlantis")
        await watcher.create_character("Tcpy")
        await watcher.enter_game("Tcpy")
        start = client.me()
        assert start is not None
        client.move(1.0, 0.0)
        await watcher.wait_for(lambda s: any(
            seen.name == "Webby" and seen.x > start.x + 1 for seen in s.seen.values()))
        client.move(0.0, 0.0)
        client.say("hello from the browser side")
        await watcher.wait_for(lambda s: ("Webby", "hello from the browser side") in s.chat)
        assert await client.leave_game()  # the final save came back through the bridge
    finally:
        await client.close()
        await watcher.close()
        await dialer.close()


async def test_the_bridge_dials_only_what_the_cluster_handed_out(
        cluster: Cluster, http: aiohttp.ClientSession) -> None:
    dialed: list[int] = []

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        dialed.append(1)
        writer.close()

    stranger = await asyncio.start_server(count, "127.0.0.1", 0)
    stranger_port = stranger.sockets[0].getsockname()[1]
    dialer = BridgeDialer(bridge_url(cluster), http)
    client = GameClient("127.0.0.1", cluster.master_port, dial=dialer.dial)
    try:
        with pytest.raises(BridgeRefused) as no_session:  # a session starts at the master
            await dialer.open(f"127.0.0.1:{stranger_port}")
        assert no_session.value.code == CloseCode.FORBIDDEN
        await client.register("Nosy", PASSWORD)
        await client.login("Nosy", PASSWORD)
        assert dialer.session is not None
        daemon_port = cluster.settings.worlds["Atlantis"].daemon.world_port
        for port in (stranger_port, daemon_port, cluster.settings.server.gm.port):
            with pytest.raises(BridgeRefused) as refused:
                await dialer.open(f"127.0.0.1:{port}")
            assert refused.value.code == CloseCode.FORBIDDEN, refused.value
            assert "not one this cluster handed out" in refused.value.reason
        with pytest.raises(BridgeRefused) as malformed:
            await dialer.open("127.0.0.1:2006; rm -rf /")
        assert malformed.value.code == CloseCode.FORBIDDEN
        await client.enter_world("Atlantis")  # now the world's address is handed out
        assert dialer.kinds[-1] == "world"

        forged = BridgeDialer(bridge_url(cluster), http)
        forged.session = "not-a-session"
        with pytest.raises(BridgeRefused) as unknown:
            await forged.open(master_target(cluster))
        assert unknown.value.code == CloseCode.NO_SESSION
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                local_addr=("127.0.0.2", 0))) as elsewhere:
            stolen = BridgeDialer(bridge_url(cluster), elsewhere)
            stolen.session = dialer.session  # a real token, from another address
            with pytest.raises(BridgeRefused) as other_ip:
                await stolen.open(master_target(cluster))
            assert other_ip.value.code == CloseCode.NO_SESSION
        assert not dialed, "the bridge connected to an address the cluster never handed out"
    finally:
        await client.close()
        await dialer.close()
        stranger.close()


async def raw_link(http: aiohttp.ClientSession, cluster: Cluster
                   ) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(bridge_url(cluster), params={"target": "master"})
    notice = await ws.receive(timeout=WAIT)
    assert notice.type == aiohttp.WSMsgType.TEXT, notice
    return ws


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    while True:
        message = await ws.receive(timeout=WAIT)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.CLOSING):
            return ws.close_code, str(message.extra or "")


async def test_the_bridge_closes_a_link_on_oversized_or_malformed_messages(
        cluster: Cluster, http: aiohttp.ClientSession) -> None:
    limit = cluster.settings.server.web.max_message_bytes
    request: Any = [0, 1, "registration_rules", []]

    ws = await raw_link(http, cluster)  # a well-formed call goes through and is answered
    await ws.send_bytes(msgpack.packb(request))
    answer = await ws.receive(timeout=WAIT)
    assert msgpack.unpackb(answer.data)[:3] == [1, 1, None]
    await ws.send_bytes(msgpack.packb([0, 2, "registration_rules", ["x" * (limit + 1)]]))
    assert (await closed_with(ws))[0] == CloseCode.TOO_BIG

    ws = await raw_link(http, cluster)
    await ws.send_bytes(msgpack.packb(request) * 2)  # two messages in one
    code, reason = await closed_with(ws)
    assert code == CloseCode.INVALID and "one whole" in reason

    ws = await raw_link(http, cluster)
    await ws.send_bytes(msgpack.packb(request)[:-3])  # half a message
    assert (await closed_with(ws))[0] == CloseCode.INVALID

    ws = await raw_link(http, cluster)
    await ws.send_str("[0, 1, \"registration_rules\", []]")
    assert (await closed_with(ws))[0] == CloseCode.UNSUPPORTED


async def test_new_sessions_are_rate_limited_per_address(cluster: Cluster) -> None:
    burst = cluster.settings.server.web.sessions_burst
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            local_addr=("127.0.0.3", 0))) as http:
        for _ in range(burst):
            ws = await raw_link(http, cluster)
            await ws.close()
        ws = await http.ws_connect(bridge_url(cluster), params={"target": "master"})
        code, reason = await closed_with(ws)
        assert code == CloseCode.RATE_LIMITED and "try again in" in reason

"""The operator dashboard in headless Chromium against a real cluster: an admin sees the world,
its WorldServer and zones, an online player and the charts, and broadcasts and kicks through the
GM port (audited); a non-admin is refused, by the page and by the web process itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from browser_support import Browser, browser_session, in_thread
from conftest import Cluster
from gm_support import PASSWORD, player_in_game, register

from shardkit.client.gm import GMClient
from shardkit.client.session import GameClient
from shardkit.gm.schemas import AuditQuery
from shardkit.web.ws_transport import BridgeDialer

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]



@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from browser_session()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def web(cluster: Cluster) -> str:
    return f"127.0.0.1:{cluster.announced_port('web')}"


def log_in(browser: Browser, cluster: Cluster, name: str) -> None:
    driver = browser.driver
    driver.get(f"http://{web(cluster)}/dashboard")
    browser.wait("the page's script", lambda: driver.execute_script(
        "return document.body.dataset.ready"))
    browser.fill("name", name)
    browser.fill("password", PASSWORD)
    browser.click("#login")


def rows(browser: Browser, css: str) -> list[str]:
    return [str(text) for text in browser.driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), (e) => e.innerText);", css)]


def board_shows(browser: Browser, character: str) -> dict[str, Any] | None:
    """The world card, its zones and the player, once the board shows all of them."""
    worlds = rows(browser, "#worlds [data-world='Atlantis'] h3")
    zones = rows(browser, "#worlds [data-world='Atlantis'] tr[data-zone]")
    servers = rows(browser, "#worlds [data-world='Atlantis'] tr[data-cluster]")
    players = rows(browser, f"#players tr[data-character='{character}']")
    ticks = [z for z in zones if z.startswith("town") and "\t-\t" not in z.split("\t", 3)[-1]]
    if worlds and len(zones) == 2 and servers and players and ticks:
        return {"world": worlds[0], "zones": zones, "servers": servers, "players": players}
    return None


async def test_an_admin_sees_the_cluster_and_acts_through_the_gm_port(
        cluster: Cluster, browser: Browser) -> None:
    await register(cluster, "Opsy", "admin")
    player = await player_in_game(cluster, "Visible", "Visible")
    try:
        await in_thread(log_in, browser, cluster, "Opsy")
        shown = await in_thread(browser.wait, "the world, its zones and the player",
                                lambda: board_shows(browser, "Visible"), 40.0)
        assert "Atlantis: up" in shown["world"]
        assert {z.split("\t")[0] for z in shown["zones"]} == {"town", "meadow"}
        server = shown["servers"][0].split("\t")
        assert server[0] == "Atlantis/0" and server[2] == "up"
        assert "Visible" in shown["players"][0] and "Atlantis" in shown["players"][0]
        assert "Opsy (admin)" in await in_thread(browser.text, "who")
        assert any(p.startswith("master\t") for p in await in_thread(
            rows, browser, "#processes tr"))
        points = await in_thread(browser.wait, "two samples on the charts", lambda: (
            browser.data("chart-population", "points") or 0) >= 2)
        assert points

        # broadcast: the player gets it
        await in_thread(browser.fill, "broadcast-text", "maintenance in five minutes")
        await in_thread(browser.click, "#broadcast")
        await player.wait_for(lambda s: "maintenance in five minutes" in s.notices)
        await in_thread(browser.screenshot, "dashboard")

        # kick: the player is put out, and the GM server's audit log has the admin's kick
        await in_thread(browser.click, "button[data-kick='Visible']")
        await player.wait_for(lambda s: s.kicked == "kicked by an administrator", 20.0)
        gm = GMClient("127.0.0.1", cluster.master_port)
        try:
            await gm.login("Opsy", PASSWORD)
            page = await gm.api.audit_query(AuditQuery(actor="gm:Opsy", action="kick"))
            assert [(row.target, row.result) for row in page.entries] == [
                ("Atlantis/Visible", "ok")]
            broadcasts = await gm.api.audit_query(AuditQuery(actor="gm:Opsy",
                                                             action="broadcast"))
            assert len(broadcasts.entries) == 1
        finally:
            await gm.close()
    finally:
        await player.close()


async def test_a_player_is_refused_by_the_page_and_by_the_web_process(
        cluster: Cluster, browser: Browser, http: aiohttp.ClientSession) -> None:
    await register(cluster, "Plainy")
    await in_thread(log_in, browser, cluster, "Plainy")
    refusal = await in_thread(browser.wait, "the refusal", lambda: (
        "admins" in browser.text("status") and browser.text("status")))
    assert refusal == "refused: the dashboard is for admins; Plainy is a player"
    assert not await in_thread(browser.visible, "board")
    assert not await in_thread(rows, browser, "#worlds [data-world]")

    status_url = f"http://{web(cluster)}/dashboard/status.json"
    async with http.get(status_url) as anonymous:
        assert anonymous.status == 401
    async with http.get(status_url, headers={"Authorization": "Bearer made-up"}) as forged:
        assert forged.status == 401
    dialer = BridgeDialer(f"ws://{web(cluster)}/ws", http)
    client = GameClient("127.0.0.1", cluster.master_port, dial=dialer.dial)
    try:
        await client.login("Plainy", PASSWORD)
        headers = {"Authorization": f"Bearer {dialer.session}"}
        async with http.get(status_url, headers=headers) as player:
            assert player.status == 403
            assert "for admins" in (await player.json())["error"]
    finally:
        await client.close()
        await dialer.close()

    await register(cluster, "Rooty", "admin")  # the same request from an admin's session
    dialer = BridgeDialer(f"ws://{web(cluster)}/ws", http)
    admin = GameClient("127.0.0.1", cluster.master_port, dial=dialer.dial)
    try:
        await admin.login("Rooty", PASSWORD)
        headers = {"Authorization": f"Bearer {dialer.session}"}
        async with http.get(status_url, headers=headers) as allowed:
            assert allowed.status == 200
            figures = await allowed.json()
        assert [w["name"] for w in figures["worlds"]] == ["Atlantis"]
        assert figures["history"], "the ring buffer holds at least one sample"
        await admin.close()  # the master link closes: the session is no admin's any more
        await dialer.close()
        for _ in range(100):  # bounded: the bridge notices the closed link within moments
            async with http.get(status_url, headers=headers) as after:
                if after.status != 200:
                    break
            await asyncio.sleep(0.05)
        assert after.status == 401
    finally:
        await admin.close()
        await dialer.close()

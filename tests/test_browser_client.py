"""The browser client in headless Chromium against a real cluster: register, world, character,
zone, walking and chat with a player on the Python client; its SCRAM, MessagePack and sync
decoder checked against docs/protocol.md's examples."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from browser_support import Browser, browser_session, in_thread
from conftest import Cluster
from test_web_units import echo_master, self_signed, start_web, web_settings

from shardkit.client.session import GameClient

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]
__all__ = ["echo_master"]  # a fixture, from test_web_units

PASSWORD = "correct horse battery"
PROTOCOL = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from browser_session()


def page_url(cluster: Cluster, path: str = "/") -> str:
    return f"http://127.0.0.1:{cluster.announced_port('web')}{path}"


def run_module(browser: Browser, module: str, body: str, *args: Any) -> Any:
    """Import /js/<module> in the page and run ``body`` (an async function of ``m`` and
    ``args``); returns its result."""
    script = (f"const done = arguments[arguments.length - 1];"
              f" import('/js/{module}').then(async (m) => {{"
              f" const args = Array.from(arguments).slice(0, -1); {body} }})"
              f".then(done, (e) => done({{error: String(e)}}));")
    result = browser.driver.execute_async_script(script, *args)
    assert not (isinstance(result, dict) and "error" in result), result
    return result


def test_scram_in_the_browser_matches_the_documented_test_vector(
        cluster: Cluster, browser: Browser) -> None:
    text = PROTOCOL.read_text()
    block = text.split("### SCRAM test vector", 1)[1].split("```", 2)[1]
    vector = dict(re.findall(r"^(\S[\w ()-]*?)\s{2,}(\S.*)$", block, re.MULTILINE))
    browser.driver.get(page_url(cluster))
    got = run_module(browser, "scram.js", """
        const [password, saltHex, iterations, nonce, serverFirst, serverFinal] = args;
        const v = await m.makeVerifier(password, iterations, m.fromHex(saltHex));
        const scram = new m.ScramClient("alice", password, nonce);
        const final = await scram.final(serverFirst);
        scram.verify(serverFinal);
        let forged = "accepted";
        try { scram.verify("v=" + m.toBase64(new Uint8Array(32))); }
        catch (e) { forged = "refused"; }
        return {salted: m.toHex(v.salted), stored: m.toHex(v.storedKey),
                server: m.toHex(v.serverKey), first: scram.first(), final, forged};
    """, vector["password"], vector["salt"], int(vector["iterations"]), vector["client nonce"],
        vector["server-first"], vector["server-final"])
    assert got == {"salted": vector["SaltedPassword"], "stored": vector["stored_key"],
                   "server": vector["server_key"], "first": vector["client-first"],
                   "final": vector["client-final"], "forged": "refused"}


def test_passwords_are_prepared_as_the_python_client_prepares_them(
        cluster: Cluster, browser: Browser) -> None:
    from scramp.core import saslprep

    browser.driver.get(page_url(cluster))
    samples = ["plain ascii", "caf\u00e9 \u2163", "no\u00adbreak\u00a0space\u200b!",
               "\uff21\uff22\ufb01", "ja\u3000\u30d1\u30b9"]
    got = run_module(browser, "scram.js", "return args[0].map(m.saslprep);", samples)
    assert got == [saslprep(text) for text in samples]


def test_messagepack_and_sync_in_the_browser_match_python(
        cluster: Cluster, browser: Browser) -> None:
    browser.driver.get(page_url(cluster))
    value: Any = [0, 7, "input", [1.5, -3, 300, -70000, 2**40, True, None, "héllo",
                                  {"k": [1, 2]}, "x" * 40]]
    packed = msgpack.packb(value)
    got = run_module(browser, "msgpack.js", """
        const [value, hex] = args;
        const bytes = Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
        const encoded = Array.from(m.encode(value), (b) => b.toString(16).padStart(2, "0"));
        return {encoded: encoded.join(""), decoded: m.decode(bytes)};
    """, value, packed.hex())
    assert msgpack.unpackb(bytes.fromhex(got["encoded"])) == value
    assert got["decoded"] == value
    # the sync example of docs/protocol.md: Ann enters at (10.5, 20.25)
    example = PROTOCOL.read_text().split("### Example", 2)[2].split("```")[1]
    first = bytes.fromhex("".join(line.split("  ")[0] for line in example.strip().splitlines()))
    body = msgpack.unpackb(first)[2][1]
    decoded = run_module(browser, "sync.js", """
        const bytes = Uint8Array.from(args[0].match(/../g), (h) => parseInt(h, 16));
        return m.decodeSync(bytes);
    """, body.hex())
    assert decoded == {"enters": [{"id": 1, "kind": 1, "name": "Ann"}], "leaves": [],
                       "moves": [{"id": 1, "x": 10.5, "y": 20.25}],
                       "stats": [{"id": 1, "hp": 100, "maxHp": 100, "level": 1, "flags": 0}],
                       "events": []}


async def test_the_page_speaks_wss_to_a_bridge_with_a_certificate(
        tmp_path: Path, browser: Browser, echo_master: int) -> None:
    cert, key = self_signed(tmp_path)
    web = await start_web(web_settings(tmp_path, echo_master, tls_cert=str(cert),
                                       tls_key=str(key)))
    try:
        await in_thread(browser.driver.get, web.url("https") + "/")
        opened = await in_thread(run_module, browser, "rpc.js", """
            const bridge = new m.Bridge();
            const link = await bridge.open("master");
            link.close();
            return {url: bridge.url, kind: link.notice.kind, session: Boolean(bridge.session)};
        """)
        assert opened == {"url": f"wss://127.0.0.1:{web.server.port}/ws", "kind": "master",
                          "session": True}
    finally:
        web.stop.set()
        assert await web.task == 0


def entity(browser: Browser, name: str) -> dict[str, Any] | None:
    for seen in browser.data("zone", "entities") or []:
        if seen["name"] == name:
            return dict(seen)
    return None


def register_and_play(browser: Browser, url: str, account: str, character: str) -> None:
    """What a person does: register (which logs in), pick the world, create a character, play."""
    driver = browser.driver
    driver.get(url)
    browser.wait("the page's script", lambda: driver.execute_script(
        "return document.body.dataset.ready"))
    browser.fill("name", account)
    browser.fill("password", PASSWORD)
    browser.click("#register")
    browser.wait("the world list", lambda: "Atlantis" in browser.text("worlds"))
    assert account in browser.text("who")
    browser.click("button[data-world='Atlantis']")
    browser.wait("the character screen", lambda: browser.visible("character-screen"))
    browser.fill("new-character", character)
    browser.click("#create")
    browser.click(f"button[data-character='{character}']")
    browser.wait("the zone", lambda: browser.visible("game-screen")
                 and entity(browser, character) is not None)


def hold_key(browser: Browser, key: str, until: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    browser.driver.find_element("id", "zone").click()
    ActionChains(browser.driver).key_down(key).perform()
    try:
        browser.wait("the walk", until)
    finally:
        ActionChains(browser.driver).key_up(key).perform()


def whisper(browser: Browser, to: str, text: str) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.select import Select

    Select(browser.driver.find_element("id", "channel")).select_by_value("whisper")
    browser.fill("whisper-to", to)
    browser.fill("chat-text", text + Keys.ENTER)


async def test_a_player_in_the_browser_meets_one_on_the_python_client(
        cluster: Cluster, browser: Browser) -> None:
    from selenium.webdriver.common.keys import Keys

    other = GameClient("127.0.0.1", cluster.master_port)
    try:
        await other.register("Pyra", PASSWORD)
        await other.login("Pyra", PASSWORD)
        await other.enter_world("Atlantis")
        await other.create_character("Pyra")
        await other.enter_game("Pyra")
        await in_thread(register_and_play, browser, page_url(cluster), "Chromy", "Chromy")

        # the other player is drawn (and listed beside the map)
        pyra = await in_thread(browser.wait, "Pyra on the map",
                               lambda: entity(browser, "Pyra"))
        assert pyra["kind"] == "player" and not pyra["me"]
        assert "Pyra" in await in_thread(browser.text, "roster")
        me = entity(browser, "Chromy")
        assert me is not None and me["me"]

        # walking east with the arrow key: the zone moves us, the other player sees it
        start_x = float(me["x"])
        await in_thread(hold_key, browser, Keys.ARROW_RIGHT,
                        lambda: (entity(browser, "Chromy") or {"x": 0})["x"] > start_x + 2)
        await other.wait_for(lambda s: any(
            seen.name == "Chromy" and seen.x > start_x + 2 for seen in s.seen.values()))
        await in_thread(hold_key, browser, "w",
                        lambda: (entity(browser, "Chromy") or {"y": 0})["y"] > float(me["y"]) + 1)

        # chat both ways: the browser says something, the Python client answers on zone chat
        await in_thread(browser.fill, "chat-text", "hello from chromium" + Keys.ENTER)
        await other.wait_for(lambda s: ("Chromy", "hello from chromium") in s.chat)
        await other.zone_say("welcome, browser player")
        line = await in_thread(browser.wait, "the answer in the chat", lambda: next(
            (text for text in browser.text("chat").splitlines() if "welcome, browser" in text),
            None))
        assert line == "[zone] Pyra: welcome, browser player"
        assert "hello from chromium" in await in_thread(browser.text, "chat")
        await in_thread(whisper, browser, "Pyra", "psst, over here")
        await other.wait_for(lambda s: ("Chromy", "psst, over here") in s.chat)
        await other.world_say("anyone in the world?")
        await in_thread(browser.wait, "world chat", lambda: (
            "[world] Pyra: anyone in the world?" in browser.text("chat")))

        await in_thread(browser.screenshot, "browser-client")
    finally:
        await other.close()


def test_a_wrong_password_is_refused_on_the_page(cluster: Cluster, browser: Browser) -> None:
    driver = browser.driver
    driver.get(page_url(cluster))
    browser.wait("the page's script", lambda: driver.execute_script(
        "return document.body.dataset.ready"))
    browser.fill("name", "Chromy")
    browser.fill("password", "not the password at all")
    browser.click("#login")
    browser.wait("the refusal", lambda: "wrong name or password" in browser.text("status"))
    assert browser.visible("login-screen") and not browser.visible("world-screen")

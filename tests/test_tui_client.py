"""The full-screen terminal client driven as a person would (Textual's pilot) against a cluster.

The checks read the screen as the player sees it: the whole screen's text, composed by
Textual as it would be written to the terminal. With ``SHARDKIT_SCREENSHOTS=1`` the test
saves what it saw as ``docs/img/terminal-client.png`` (needs the ``screenshots`` extra).
"""

from __future__ import annotations

import io
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Cluster, start_cluster
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input

from shardkit.client.events import Seen
from shardkit.client.session import GameClient
from shardkit.client.tui import ShardkitApp
from shardkit.client.tui.chat import Outgoing, parse_chat
from shardkit.client.tui.game import GameScreen
from shardkit.client.tui.map_view import ME, MapGrid, MapView, draw
from shardkit.client.tui.panel import experience_span
from shardkit.client.tui.screens import CharactersScreen, LoginScreen, WorldsScreen
from shardkit.zone.schemas import Entered, PortalSign

WAIT = 30.0  # upper bound for any one thing the cluster or the client does
SIZE = (132, 42)
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "img" / "terminal-client.png"
SCREENSHOT_ENV = "SHARDKIT_SCREENSHOTS"
ZONE_CONTENT = Path(__file__).resolve().parent / "zone_content"


def _unique() -> str:
    return "".join(chr(ord("a") + int(digit, 16)) for digit in uuid.uuid4().hex[:10])


def screen_lines(app: ShardkitApp) -> list[str]:
    """The whole screen as text lines: what ``export_screenshot`` draws, as plain text."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()


def screen_text(app: ShardkitApp) -> str:
    return "\n".join(screen_lines(app))


async def until(pilot: Pilot[int], check: Callable[[], object], what: str,
                timeout: float = WAIT) -> None:
    """Let the app run until ``check()`` is truthy; fail naming ``what`` (and the screen)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen in {timeout} s; the screen:\n"
                                 f"{screen_text(pilot.app)}")  # type: ignore[arg-type]
        await pilot.pause(0.1)


def map_glyph(app: ShardkitApp, x: float, y: float) -> str:
    """The character on the screen where the map shows zone point (x, y)."""
    views = app.screen.query(MapView)
    if not views:
        return ""  # not composed yet
    view = views.first()
    at = view.grid.cell_of(x, y)
    if at is None:
        return ""
    region = view.content_region
    lines = screen_lines(app)
    return lines[region.y + at[1]][region.x + at[0]]


def save_screenshot(app: ShardkitApp) -> None:
    import cairosvg  # the screenshots extra

    svg = app.export_screenshot(title="shardkit play").replace("Fira Code", "DejaVu Sans Mono")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    cairosvg.svg2png(bytestring=svg.encode(), write_to=str(SCREENSHOT))


async def second_player(port: int) -> tuple[GameClient, str]:
    """Another player, through the client library, in the game in town."""
    client = GameClient("127.0.0.1", port)
    account, name = f"tb_{_unique()}", f"Tb{_unique()}"
    await client.register(account, "second player")
    await client.login(account, "second player")
    await client.enter_world("Atlantis")
    await client.create_character(name)
    await client.enter_game(name)
    return client, name


@pytest.mark.cluster
async def test_register_enter_see_a_player_move_and_chat(cluster) -> None:
    account, character = f"tt_{_unique()}", f"Tt{_unique()}"
    app = ShardkitApp("127.0.0.1", cluster.master_port)
    bob: GameClient | None = None
    async with app.run_test(size=SIZE) as pilot:
        try:
            # registration logs straight in, and the world list shows population and status
            await until(pilot, lambda: "Welcome to shardkit" in screen_text(app), "login form")
            await pilot.press(*account, "tab", *"a long walk home", "ctrl+r")
            await until(pilot, lambda: isinstance(app.screen, WorldsScreen), "the world list")
            await until(pilot, lambda: "Atlantis" in screen_text(app), "Atlantis listed")
            row = next(line for line in screen_lines(app) if "Atlantis" in line).split()
            assert row[1] == "up" and re.fullmatch(r"\d+/\d+", row[2]), row
            assert f"logged in as {account} (new account)" in screen_text(app)
            await pilot.press("enter")

            # a new character, then into the game
            await until(pilot, lambda: isinstance(app.screen, CharactersScreen), "characters")
            await until(pilot, lambda: "no characters here yet" in screen_text(app),
                        "the empty character list")
            await pilot.press(*character, "enter")
            await until(pilot, lambda: f"created {character}" in screen_text(app), "created")
            await until(pilot, lambda: app.screen.focused is not None
                        and not isinstance(app.screen.focused, Input), "the list focused")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, GameScreen), "the game screen")
            await until(pilot, lambda: app.client.me() is not None, "our own entity")
            me = app.client.me()
            assert me is not None
            await until(pilot, lambda: map_glyph(app, me.x, me.y) == "@", "us in the middle")
            view = app.screen.query_one(MapView)
            assert view.grid.cell_of(me.x, me.y) == (view.grid.cols // 2, view.grid.rows // 2)

            # a second player nearby shows on the map, where it stands, and in the panel
            bob, bob_name = await second_player(cluster.master_port)
            await until(pilot, lambda: bob_name in screen_text(app), "the second player listed")
            bob_at = bob.me() or await bob.wait_for(lambda s: bob.me(), WAIT)
            await until(pilot, lambda: map_glyph(app, bob_at.x, bob_at.y) == "@",
                        "the second player's @ on the map")

            # it walks east: the map shows it at its new place, and no longer at the old one
            bob.move(1, 0)
            await bob.wait_for(lambda s: (bob.me() or bob_at).x > bob_at.x + 8, WAIT)
            bob.move(0, 0)
            moved = await bob.wait_for(lambda s: _settled(bob), WAIT)
            me = app.client.me()
            assert me is not None
            await until(pilot, lambda: map_glyph(app, moved.x, moved.y) == "@",
                        "the second player's @ at its new place")
            old = app.screen.query_one(MapView).grid.cell_of(bob_at.x, bob_at.y)
            if old not in (app.screen.query_one(MapView).grid.cell_of(me.x, me.y),
                           app.screen.query_one(MapView).grid.cell_of(moved.x, moved.y)):
                assert map_glyph(app, bob_at.x, bob_at.y) != "@"

            # it says something: the chat pane shows the line
            bob.say(f"hello {character}")
            await until(pilot, lambda: f"[say] {bob_name}: hello {character}"
                        in screen_text(app), "the second player's line in the chat pane")

            # we talk back, on the say channel and in a whisper
            await pilot.press("enter", *"hi there", "enter")
            await bob.wait_for(lambda s: ("say", character, "hi there") in s.heard, WAIT)
            await pilot.press("enter", *f"/w {bob_name} just you", "enter")
            await bob.wait_for(lambda s: ("whisper", character, "just you") in s.heard, WAIT)
            await until(pilot, lambda: f"[whisper] to {bob_name}: just you" in screen_text(app),
                        "our whisper echoed")

            # a dropped link to the zone: the client gets back in by itself and says so
            assert app.client.zone is not None
            app.client.zone.close("the test cuts the link")
            await until(pilot, lambda: "the link to the zone dropped; reconnecting"
                        in screen_text(app), "the chat pane telling of the reconnect")
            await until(pilot, lambda: "back in the game (the link to the zone dropped; try"
                        in screen_text(app), "back in the game")
            await until(pilot, lambda: app.client.zone is not None
                        and not app.client.zone.closed.is_set() and app.client.me() is not None,
                        "our entity again")
            me = app.client.me()
            assert me is not None
            await until(pilot, lambda: map_glyph(app, me.x, me.y) == "@", "us on the map again")

            # the help lists the keys
            await pilot.press("question_mark")
            await until(pilot, lambda: "attack the nearest creature" in screen_text(app), "help")
            await pilot.press("escape")
            await until(pilot, lambda: "attack the nearest creature" not in screen_text(app),
                        "help closed")
            if os.environ.get(SCREENSHOT_ENV) == "1":
                save_screenshot(app)

            # q logs out: the status line says the character is saved, and the client ends
            await pilot.press("q")
            await until(pilot, lambda: app.return_code is not None, "the client ending")
            assert app.return_code == 0
            assert f"{character} is saved" in app.status
        finally:
            if bob is not None:
                await bob.close()


def _settled(client: GameClient) -> object:
    """Our entity, once it stood still for a tick (the last sync moved it no further)."""
    me = client.me()
    if me is None or client.state.tick - me.tick < 2:
        return None
    return me


@pytest.fixture(scope="module")
def arena_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster on the test content: the arena has a portal and a creature near its spawn."""
    running = start_cluster(tmp_path_factory.mktemp("tui_arena"), zones=("arena", "field"),
                            content_dir=str(ZONE_CONTENT))
    yield running
    assert running.stop() == 0, "\n".join(running.up.lines[-40:])


@pytest.mark.cluster
async def test_portal_and_creature_on_the_map_and_walking_through_the_portal(
        arena_cluster: Cluster) -> None:
    account, character = f"tp_{_unique()}", f"Tp{_unique()}"
    app = ShardkitApp("127.0.0.1", arena_cluster.master_port)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "Welcome to shardkit" in screen_text(app), "login form")
        await pilot.press(*account, "tab", *"through the door", "ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, WorldsScreen), "the world list")
        await until(pilot, lambda: "Atlantis" in screen_text(app), "Atlantis listed")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CharactersScreen), "characters")
        await until(pilot, lambda: "no characters here yet" in screen_text(app), "no characters")
        await pilot.press(*character, "enter")
        await until(pilot, lambda: app.screen.focused is not None
                    and not isinstance(app.screen.focused, Input), "the list focused")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, GameScreen), "the game screen")
        await until(pilot, lambda: app.client.me() is not None, "our own entity")

        # the west door (x 0-6, y 40-50) is an O; the training dummy at (50, 20) a "t"
        await until(pilot, lambda: map_glyph(app, 3.0, 45.0) == "O", "the portal on the map")
        await until(pilot, lambda: map_glyph(app, 50.0, 20.0) == "t", "the creature's letter")
        assert "Training Dummy" in screen_text(app)  # in sight, in the panel
        await pilot.press("f")  # the nearest creature is the dummy, out of reach from here
        await until(pilot, lambda: "you attack Training Dummy" in screen_text(app)
                    and "attack refused: too far away" in screen_text(app), "the attack refused")

        # walk west to the zone's edge, then north along it into the door: the field is drawn
        for _ in range(40):
            me = app.client.me()
            if me is not None and me.x < 1.0:
                break
            await pilot.press("left")
        else:
            pytest.fail(f"walking west never reached the edge:\n{screen_text(app)}")
        for _ in range(40):
            entered = app.client.entered
            if entered is not None and entered.zone == "field":
                break
            await pilot.press("up")
        else:
            pytest.fail(f"walking north never went through the door:\n{screen_text(app)}")
        await until(pilot, lambda: "╭─ field  (" in screen_text(app), "the map of the field")
        await until(pilot, lambda: f"playing {character} in field at (50, 50)" in app.status,
                    "the status line naming the new zone and the portal's target")
        await until(pilot, lambda: map_glyph(app, 97.0, 45.0) == "O", "the field's east door")
        await pilot.press("q")
        await until(pilot, lambda: app.return_code is not None, "the client ending")


# ------------------------------------------------------------ without a cluster


def test_chat_lines_pick_their_channel() -> None:
    assert parse_chat("hello", "say") == Outgoing("say", "hello")
    assert parse_chat("hello", "zone") == Outgoing("zone", "hello")
    assert parse_chat("/z all of town", "say") == Outgoing("zone", "all of town")
    assert parse_chat("/world hi", "say") == Outgoing("world", "hi")
    assert parse_chat("/g guild news", "say") == Outgoing("guild", "guild news")
    assert parse_chat("/w Bob psst there", "say") == Outgoing("whisper", "psst there", "Bob")
    assert parse_chat("again", "whisper", "Bob") == Outgoing("whisper", "again", "Bob")
    assert parse_chat("again", "whisper") == "whisper to whom? /w NAME TEXT"
    assert parse_chat("/w Bob", "say") == "say what? /w TEXT"
    assert isinstance(parse_chat("/dance", "say"), str)
    assert parse_chat("   ", "say") == "nothing to say"


def test_map_draws_us_in_the_middle_others_creatures_portals_and_the_edge() -> None:
    entered = Entered(1, "town", 10.0, 10.0, 10.0, 5.0, width=1000.0, height=1000.0,
                      portals=[PortalSign("gate", 20.0, 6.0, 4.0, 8.0, "meadow")])
    seen = {1: Seen("Me", 10.0, 10.0, 0), 2: Seen("Bob", 4.0, 14.0, 0),
            3: Seen("wolf", 16.0, 4.0, 0, kind=2), 4: Seen("boar", 12.0, 10.0, 0, kind=2,
                                                            flags=1)}
    grid = MapGrid(41, 21, 10.0, 10.0, 1.0)
    rows = ["".join(glyph for glyph, _ in row) for row in draw(grid, seen, 1, entered)]
    assert rows[10][20] == ME
    assert grid.cell_of(4.0, 14.0) == (14, 8) and rows[8][14] == "@"
    assert rows[13][26] == "w"  # a creature: the first letter of its kind
    assert rows[10][22] == "%"  # the dead
    assert grid.cell_of(22.0, 10.0) == (32, 10) and rows[10][32] == "O"
    assert rows[10][0] == "#" and rows[10][9] == "#" and rows[10][10] == "."  # x < 0: outside
    for col in range(41):
        for row in range(21):
            x, y = grid.point_of(col, row)
            assert grid.cell_of(x, y) == (col, row)


def test_experience_bar_spans_the_current_level() -> None:
    thresholds = [100, 300, 600]
    assert experience_span(1, 40, thresholds) == (40, 100)
    assert experience_span(2, 150, thresholds) == (50, 200)
    assert experience_span(4, 700, thresholds) == (100, 0)  # the cap: nothing more to reach
    assert experience_span(1, 5, []) == (5, 0)


async def test_an_unreachable_master_is_a_clear_status_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens here once the socket is closed
    app = ShardkitApp("127.0.0.1", port)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "Welcome to shardkit" in screen_text(app), "login form")
        await pilot.press(*"someone", "tab", *"a password", "enter")
        await until(pilot, lambda: "is `shardkit up` running?" in screen_text(app),
                    "the status line naming the problem")
        assert "logging in as someone failed" in app.status
        await pilot.press("ctrl+q")
        await until(pilot, lambda: app.return_code is not None, "the client ending")


async def test_a_kick_is_said_on_the_status_line_and_leads_back_to_the_login() -> None:
    app = ShardkitApp("127.0.0.1", 1)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "Welcome to shardkit" in screen_text(app), "login form")
        client = app.client
        client.state.kicked = "spamming the town square"  # as the servers' `kicked` sets it
        client.changed()
        await until(pilot, lambda: "kicked: spamming the town square" in screen_text(app),
                    "the kick and its reason on the status line")
        assert app.client is not client  # a fresh client: nothing of the old session is used
        assert isinstance(app.screen, LoginScreen)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: app.return_code is not None, "the client ending")

"""The terminal client's screens before the game: log in or register, worlds, characters."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label

from shardkit.client.tui.panel import StatusLine
from shardkit.wire.text import clean_text

if TYPE_CHECKING:
    from shardkit.client.tui.app import ShardkitApp

__all__ = ["CharactersScreen", "LoginScreen", "WorldsScreen"]

WORLD_REFRESH_S = 5.0  # the world list refreshes itself this often
CONFIRM_S = 5.0  # a second press of Delete within this long deletes


class _Screen(Screen[None]):
    """A screen of ours: header, the screen's body, the status line, the keys."""

    @property
    def shardkit(self) -> ShardkitApp:
        from shardkit.client.tui.app import ShardkitApp

        assert isinstance(self.app, ShardkitApp)
        return self.app

    DEFAULT_CSS = """
    _Screen #body { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="body"):
            yield from self.body()
        yield StatusLine(id="status")
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()


class LoginScreen(_Screen):
    """Account name and password; Log in, or Register (which logs you in at once)."""

    DEFAULT_CSS = """
    LoginScreen #form { width: 60; height: auto; margin: 2 4; border: round $primary;
                        padding: 1 2; }
    LoginScreen Input { margin-bottom: 1; }
    LoginScreen Horizontal { height: auto; }
    LoginScreen Button { margin-right: 2; }
    """
    BINDINGS = [Binding("ctrl+r", "register", "register")]

    def body(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Label("Welcome to shardkit. Log in, or register a new account.")
            yield Input(placeholder="account name", id="name")
            yield Input(placeholder="password (at least 8 characters)", password=True,
                        id="password")
            with Horizontal():
                yield Button("Log in", id="login", variant="primary")
                yield Button("Register", id="register")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def _fields(self) -> tuple[str, str]:
        return self.query_one("#name", Input).value.strip(), self.query_one("#password",
                                                                             Input).value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "name":
            self.query_one("#password", Input).focus()
        else:
            self.shardkit.start_login(*self._fields(), register=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.shardkit.start_login(*self._fields(), register=event.button.id == "register")

    def action_register(self) -> None:
        self.shardkit.start_login(*self._fields(), register=True)


class WorldsScreen(_Screen):
    """The worlds with their status and population; Enter on one goes in."""

    BINDINGS = [Binding("r", "refresh", "refresh"), Binding("escape", "logout", "log out")]

    def body(self) -> ComposeResult:
        yield Label("Pick a world (arrows, Enter):", classes="title")
        yield DataTable(id="worlds", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#worlds", DataTable)
        table.add_columns("world", "status", "players", "queue")
        table.focus()
        self.action_refresh()
        self.set_interval(WORLD_REFRESH_S, self.action_refresh)

    def action_refresh(self) -> None:
        self.run_worker(self._refresh(), exclusive=True, group="worlds")

    async def _refresh(self) -> None:
        worlds = await self.shardkit.attempt("listing the worlds", self.shardkit.client.worlds(),
                                            quiet=True)
        if worlds is None:
            return
        table = self.query_one("#worlds", DataTable)
        row = table.cursor_row
        table.clear()
        for world in worlds:
            table.add_row(clean_text(world.name, 32), world.status,
                          f"{world.population}/{world.capacity}", str(world.queue) or "-",
                          key=world.name)
        if worlds:
            table.move_cursor(row=min(row, len(worlds) - 1))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.shardkit.start_enter_world(event.row_key.value)

    def action_logout(self) -> None:
        self.shardkit.logout()


class CharactersScreen(_Screen):
    """The account's characters in this world: play, create, rename, delete."""

    DEFAULT_CSS = """
    CharactersScreen #characters { height: 1fr; }
    CharactersScreen #actions { height: auto; padding: 0 1; }
    CharactersScreen #actions Input { width: 30; }
    CharactersScreen #actions Button { margin-left: 1; min-width: 10; }
    """
    BINDINGS = [Binding("escape", "back", "worlds"), Binding("ctrl+n", "create", "create")]

    def __init__(self) -> None:
        super().__init__()
        self._delete_armed: tuple[str, float] = ("", 0.0)

    def body(self) -> ComposeResult:
        yield Label("Your characters (Enter plays the one picked):", classes="title")
        yield DataTable(id="characters", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="actions"):
            yield Input(placeholder="name (new, or new name)", id="new-name")
            yield Button("Play", id="play", variant="primary")
            yield Button("Create", id="create", variant="success")
            yield Button("Rename", id="rename")
            yield Button("Delete", id="delete", variant="error")

    def on_mount(self) -> None:
        table = self.query_one("#characters", DataTable)
        table.add_columns("name", "level", "zone")
        self.sub_title = self.shardkit.client.world_name
        self.reload()

    def reload(self) -> None:
        self.run_worker(self._reload(), exclusive=True, group="characters")

    async def _reload(self) -> None:
        app = self.shardkit
        found = await app.attempt("listing your characters", app.client.characters(),
                                  quiet=True)
        if found is None:
            return
        table = self.query_one("#characters", DataTable)
        table.clear()
        for c in found:
            table.add_row(clean_text(c.name, 32), str(c.level), clean_text(c.zone, 32),
                          key=c.name)
        if found:
            table.focus()
        else:
            self.query_one("#new-name", Input).focus()
            app.set_status("no characters here yet: type a name and press Create")

    def selected(self) -> str:
        table = self.query_one("#characters", DataTable)
        if table.row_count == 0:
            return ""
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key or ""

    def _typed(self) -> str:
        return self.query_one("#new-name", Input).value.strip()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.shardkit.start_game(event.row_key.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_create()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button.id
        if button == "play":
            if self.selected():
                self.shardkit.start_game(self.selected())
        elif button == "create":
            self.action_create()
        elif button == "rename":
            self.run_worker(self._rename())
        elif button == "delete":
            self.run_worker(self._delete())

    def action_create(self) -> None:
        self.run_worker(self._create())

    def action_back(self) -> None:
        self.shardkit.back_to_worlds()

    async def _create(self) -> None:
        name, app = self._typed(), self.shardkit
        if not name:
            app.set_status("type the new character's name first")
            return
        created = await app.attempt(f"creating {name}", app.client.create_character(name))
        if created is not None:
            app.set_status(f"created {created.name}: press Enter to play")
            self.query_one("#new-name", Input).value = ""
            self.reload()

    async def _rename(self) -> None:
        old, new, app = self.selected(), self._typed(), self.shardkit
        if not old or not new:
            app.set_status("pick a character and type its new name, then Rename")
            return
        renamed = await app.attempt(f"renaming {old}", app.client.rename_character(old, new))
        if renamed is not None:
            app.set_status(f"{old} is now {renamed.name}")
            self.reload()

    async def _delete(self) -> None:
        name, app = self.selected(), self.shardkit
        if not name:
            return
        armed, when = self._delete_armed
        if armed != name or time.monotonic() - when > CONFIRM_S:
            self._delete_armed = (name, time.monotonic())
            app.set_status(f"press Delete again to delete {name} (a game master can restore it)")
            return
        self._delete_armed = ("", 0.0)
        if await app.attempt(f"deleting {name}", app.client.delete_character(name)) is not None:
            app.set_status(f"deleted {name}")
            self.reload()

"""The terminal client's game screen: map, side panel, chat, keys to walk, fight and talk."""

from __future__ import annotations

import math
from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Static

from shardkit.client.events import CombatLine, Seen
from shardkit.client.tui.chat import HELP as CHAT_HELP
from shardkit.client.tui.chat import ChatPane
from shardkit.client.tui.map_view import MapView
from shardkit.client.tui.panel import SidePanel
from shardkit.client.tui.screens import _Screen
from shardkit.zone.schemas import Entered

__all__ = ["KEYS", "GameScreen", "HelpScreen", "combat_text", "nearest_target"]

STOP_AFTER_S = 0.6  # walking stops this long after the last press (a held key repeats sooner)
KEYS = (
    ("arrows / w a s d", "walk (hold the key; it stops when you let go)"),
    ("space", "stop"),
    ("f", "attack the nearest creature (or player where that is allowed)"),
    ("enter or t", "chat: type a line, Enter sends it, Esc returns to the map"),
    ("/", "chat with a command: /s /z /world /g TEXT, /w NAME TEXT"),
    ("F2", "change the chat channel (say, zone, world, whisper, guild)"),
    ("+ / -", "zoom the map in / out"),
    ("c", "leave the game (saved) and pick another character"),
    ("q", "log out (your character is saved) and quit"),
    ("? or F1", "this help"),
)
REFUSALS = {  # the zone's reasons for refusing an attack, in words
    "out_of_range": "too far away: walk closer", "cooldown": "not ready to strike again yet",
    "dead": "you are dead", "no_target": "nothing there to attack",
    "not_allowed": "not allowed here",
}
LEGEND = ("map: @ on yellow is you, cyan @ other players, red letters creatures (w: wolf),"
          " % the dead, O portals (walk in to travel), # beyond the zone's edge")


def combat_text(line: CombatLine, me: int, seen: Mapping[int, Seen]) -> str:
    """A combat line as words, if it is about us or a death in sight ("" otherwise)."""

    def name(eid: int) -> str:
        if eid == me:
            return "you"
        entity = seen.get(eid)
        return entity.name if entity else f"#{eid}"

    if line.kind == "hit" and me in (line.source, line.target):
        return f"{name(line.source)} hit {name(line.target)} for {line.value}"
    if line.kind == "death":
        killer = f", killed by {name(line.source)}" if line.source else ""
        return f"{name(line.target)} died{killer}"
    if line.kind == "level_up" and line.target != me:
        return f"{name(line.target)} reached level {line.value}"
    return ""


def nearest_target(me: int, seen: Mapping[int, Seen], at: tuple[float, float]) -> int | None:
    """The living entity nearest to ``at`` other than us, creatures before players."""
    living = [(e.kind == 1, math.dist(at, (e.x, e.y)), eid) for eid, e in seen.items()
              if eid != me and not e.dead]
    return min(living)[2] if living else None


class HelpScreen(ModalScreen[None]):
    """The keys of the game, over the game."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen #help { width: 90; height: auto; border: round $accent; padding: 1 2;
                       background: $panel; }
    """
    BINDINGS = [Binding("escape,question_mark,f1,q", "dismiss_help", "close")]

    def compose(self) -> ComposeResult:
        text = Text("Keys\n\n", style="bold")
        for keys, what in KEYS:
            text.append(f"  {keys:<18}", style="bold yellow")
            text.append(f"{what}\n")
        text.append(f"\n{LEGEND}\n\n{CHAT_HELP}\n\nEsc closes this help.")
        yield Static(text, id="help")

    def action_dismiss_help(self) -> None:
        self.dismiss()


class GameScreen(_Screen):
    """Playing one character: the map around it, its bars, what is in sight, the chat."""

    DEFAULT_CSS = """
    GameScreen #top { height: 1fr; }
    """
    BINDINGS = [
        Binding("up,w", "walk(0, 1)", "walk", show=False),
        Binding("down,s", "walk(0, -1)", "walk", show=False),
        Binding("left,a", "walk(-1, 0)", "walk", show=False),
        Binding("right,d", "walk(1, 0)", "walk", show=False),
        Binding("space", "stop", "stop", show=False),
        Binding("f", "attack", "attack"),
        Binding("enter,t", "chat", "chat"),
        Binding("slash", "chat('/')", "command", show=False),
        Binding("f2", "channel", "channel"),
        Binding("plus,equals_sign", "zoom(0.5)", "zoom in", show=False),
        Binding("minus", "zoom(2)", "zoom out", show=False),
        Binding("escape", "to_map", "map", show=False),
        Binding("c", "characters", "characters"),
        Binding("q", "quit_game", "quit"),
        Binding("question_mark,f1", "help", "help"),
    ]

    def __init__(self, character: str) -> None:
        super().__init__()
        self.character = character
        self.walking: tuple[float, float] = (0.0, 0.0)
        self._stop_timer: Timer | None = None
        self._heard = self._guild = self._refused = 0
        self._combat_total = 0
        self._ready = False  # composed and mounted: redraw has widgets to draw on
        self._shown: tuple[object, ...] = ()  # what the map and the panel show now
        self._entered: Entered | None = None

    def body(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield MapView(id="map")
            yield SidePanel(id="panel")
        yield ChatPane(id="chat")

    def on_mount(self) -> None:
        self.sub_title = self.character
        state = self.shardkit.client.state
        self._heard, self._guild = len(state.heard), len(state.guild_chat)
        self._refused, self._combat_total = len(state.refused), state.combat_total
        self.query_one(ChatPane).system("press ? for the keys; Enter to chat")
        self.query_one(MapView).focus()
        self._ready = True
        self.redraw()

    # ----------------------------------------------------------- drawing
    def redraw(self) -> None:
        """Show the client's state as it is now (the app calls this after each change)."""
        if not self._ready:
            return
        app = self.shardkit
        client, state = app.client, app.client.state
        entered, me = client.entered, client.me()
        if entered is not self._entered:  # a new zone: we stand still there until told
            self._entered, self.walking = entered, (0.0, 0.0)
        centre = ((me.x, me.y) if me is not None
                  else (entered.x, entered.y) if entered is not None else (0.0, 0.0))
        progress = state.progress
        shown = (centre, entered, state.saved, progress.level, progress.xp, progress.gold,
                 tuple(progress.items.items()),
                 tuple((eid, e.x, e.y, e.hp, e.max_hp, e.level, e.flags)
                       for eid, e in state.seen.items()))
        if shown != self._shown:  # most ticks change nothing in sight: nothing to redraw
            self._shown = shown
            self.query_one(MapView).show(state.seen, entered, centre)
            self.query_one(SidePanel).show(self.character, entered, me, progress, state.seen,
                                           state.saved, app.saved_at)
        chat = self.query_one(ChatPane)
        for channel, speaker, text in state.heard[self._heard:]:
            chat.heard(channel, speaker, text)
        self._heard = len(state.heard)
        for _guild, speaker, text in state.guild_chat[self._guild:]:
            chat.heard("guild", speaker, text)
        self._guild = len(state.guild_chat)
        for _target, reason in state.refused[self._refused:]:
            chat.system(f"attack refused: {REFUSALS.get(reason, reason)}")
        self._refused = len(state.refused)
        fresh = min(state.combat_total - self._combat_total, len(state.combat))
        me_id = entered.entity_id if entered else 0
        for line in list(state.combat)[len(state.combat) - fresh:]:
            words = combat_text(line, me_id, state.seen)
            if words:
                chat.system(words)
        self._combat_total = state.combat_total

    def notice(self, text: str) -> None:
        if self._ready:
            self.query_one(ChatPane).system(text)

    # ----------------------------------------------------------- actions
    def action_walk(self, dx: float, dy: float) -> None:
        if (dx, dy) != self.walking:
            self.walking = (dx, dy)
            self.shardkit.safely(lambda: self.shardkit.client.move(dx, dy))
        if self._stop_timer is not None:
            self._stop_timer.stop()
        self._stop_timer = self.set_timer(STOP_AFTER_S, self.action_stop)

    def action_stop(self) -> None:
        if self._stop_timer is not None:
            self._stop_timer.stop()
            self._stop_timer = None
        if self.walking != (0.0, 0.0):
            self.walking = (0.0, 0.0)
            self.shardkit.safely(lambda: self.shardkit.client.move(0, 0))

    def action_attack(self) -> None:
        client = self.shardkit.client
        entered, me = client.entered, client.me()
        if entered is None:
            return
        at = (me.x, me.y) if me is not None else (entered.x, entered.y)
        target = nearest_target(entered.entity_id, client.state.seen, at)
        if target is None:
            self.notice("nobody in sight to attack")
            return
        seen = client.state.seen[target]
        distance = math.dist(at, (seen.x, seen.y))
        self.notice(f"you attack {seen.name} ({distance:.0f} away)")
        self.shardkit.safely(lambda: client.attack(target))

    def action_chat(self, prefill: str = "") -> None:
        field = self.query_one("#chat-input", Input)
        if prefill and not field.value:
            field.value = prefill
            field.cursor_position = len(prefill)
        field.focus()

    def action_to_map(self) -> None:
        self.query_one(MapView).focus()

    def action_channel(self) -> None:
        self.query_one(ChatPane).next_channel()

    def action_zoom(self, factor: float) -> None:
        self.query_one(MapView).zoom_by(factor)
        self._shown = ()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_characters(self) -> None:
        self.shardkit.leave_game(then_quit=False)

    def action_quit_game(self) -> None:
        self.shardkit.leave_game(then_quit=True)

    def on_chat_pane_send(self, message: ChatPane.Send) -> None:
        self.shardkit.send_chat(message.outgoing)
        self.query_one(MapView).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()

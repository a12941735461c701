"""The terminal client's chat pane: what was said on each channel, and a line to say something."""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, RichLog

from shardkit.wire.text import clean_text

__all__ = ["CHANNELS", "ChatPane", "Outgoing", "parse_chat"]

CHANNELS = ("say", "zone", "world", "whisper", "guild")
MAX_SHOWN = 1000  # characters of one shown line (server text is cut)
LOG_LINES = 500  # lines the pane keeps

CHANNEL_STYLES = {
    "say": Style(color="white"), "zone": Style(color="bright_green"),
    "world": Style(color="bright_blue"), "whisper": Style(color="bright_magenta"),
    "guild": Style(color="green"),
}
SYSTEM_STYLE = Style(color="yellow", italic=True)

PREFIXES = {  # typed at the start of a line: the channel it goes to
    "/s": "say", "/say": "say", "/z": "zone", "/zone": "zone", "/world": "world",
    "/g": "guild", "/guild": "guild", "/w": "whisper", "/whisper": "whisper", "/tell": "whisper",
}
HELP = ("chat: type and press Enter to talk on the channel shown; /s /z /world /g TEXT pick"
        " a channel for one line, /w NAME TEXT whispers; F2 changes the channel")


@dataclass(frozen=True)
class Outgoing:
    """A line the player wants to say: on ``channel``, to ``to`` for a whisper."""

    channel: str
    text: str
    to: str = ""


def parse_chat(line: str, channel: str, whisper_to: str = "") -> Outgoing | str:
    """What a typed line asks for, or a sentence saying what is wrong with it.

    ``channel`` is the one selected; a whisper without a name goes to ``whisper_to``.
    """
    line = line.strip()
    if not line:
        return "nothing to say"
    word, _, rest = line.partition(" ")
    chosen = PREFIXES.get(word.lower()) if word.startswith("/") else None
    if word.startswith("/") and chosen is None:
        return f"no chat command {word!r}; " + HELP
    if chosen is None:
        chosen, rest = channel, line
    rest = rest.strip()
    to = whisper_to
    if chosen == "whisper" and word.startswith("/"):
        to, _, rest = rest.partition(" ")
        rest = rest.strip()
    if chosen == "whisper" and not to:
        return "whisper to whom? /w NAME TEXT"
    if not rest:
        return f"say what? {word} TEXT" if word.startswith("/") else "nothing to say"
    return Outgoing(chosen, rest, to if chosen == "whisper" else "")


class ChatPane(Vertical):
    """Chat lines (newest at the bottom), the channel, and the line being typed."""

    DEFAULT_CSS = """
    ChatPane { height: 12; border: round $secondary; }
    ChatPane RichLog { height: 1fr; background: $surface; }
    ChatPane Horizontal { height: 1; }
    ChatPane #channel { min-width: 11; width: 11; height: 1; border: none; }
    ChatPane Input { height: 1; border: none; padding: 0 1; }
    """

    class Send(Message):
        """The player asked to say something."""

        def __init__(self, outgoing: Outgoing) -> None:
            super().__init__()
            self.outgoing = outgoing

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.channel = "say"
        self.whisper_to = ""
        self.shown: list[str] = []  # every line shown, as plain text (newest last)
        self.border_title = "chat"

    def compose(self) -> ComposeResult:
        yield RichLog(id="chat-log", wrap=True, markup=False, max_lines=LOG_LINES)
        with Horizontal():
            yield Button(self._channel_label(), id="channel", compact=True)
            yield Input(placeholder="Enter: talk   /w NAME TEXT: whisper   Esc: back to the map",
                        id="chat-input", compact=True)

    def _channel_label(self) -> Text:
        """The channel as plain text (a label string would be read as markup)."""
        if self.channel == "whisper" and self.whisper_to:
            return Text(f"[to {self.whisper_to[:6]}]", CHANNEL_STYLES["whisper"])
        return Text(f"[{self.channel}]", CHANNEL_STYLES.get(self.channel, Style()))

    def next_channel(self) -> None:
        """Select the next channel (F2 or a click on the channel)."""
        self.channel = CHANNELS[(CHANNELS.index(self.channel) + 1) % len(CHANNELS)]
        self.query_one("#channel", Button).label = self._channel_label()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "channel":
            event.stop()
            self.next_channel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "chat-input":
            return
        event.stop()
        wanted = parse_chat(event.value, self.channel, self.whisper_to)
        if isinstance(wanted, str):
            self.system(wanted)
            return
        event.input.value = ""
        if wanted.channel == "whisper":
            self.whisper_to = wanted.to
            self.query_one("#channel", Button).label = self._channel_label()
        self.post_message(self.Send(wanted))

    def heard(self, channel: str, speaker: str, text: str) -> None:
        """Show a line someone said (cleaned: nothing in it can act on the terminal)."""
        speaker = clean_text(speaker, 64)
        line = Text(f"[{channel}] ", CHANNEL_STYLES.get(channel, Style()))
        line.append(f"{speaker}: ", Style(bold=True))
        line.append(clean_text(text, MAX_SHOWN))
        self._write(line)

    def system(self, text: str) -> None:
        """A line of the client's own or a server notice (shown apart from what players say)."""
        self._write(Text("* " + clean_text(text, MAX_SHOWN), SYSTEM_STYLE))

    def _write(self, line: Text) -> None:
        self.shown.append(line.plain)
        del self.shown[:-LOG_LINES]
        self.query_one("#chat-log", RichLog).write(line)

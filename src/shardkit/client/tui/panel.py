"""The terminal client's side panel and status line: health, experience, who is near, news."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from shardkit.client.events import Progress, Seen
from shardkit.client.tui.map_view import glyph_of
from shardkit.wire.text import clean_text
from shardkit.zone.notifications import Saved
from shardkit.zone.schemas import Entered

__all__ = ["SidePanel", "StatusLine", "bar", "experience_span", "heading"]

BAR_WIDTH = 16
NEARBY = 8  # entities the panel lists, nearest first
HEADINGS = ("E", "NE", "N", "NW", "W", "SW", "S", "SE")


def bar(label: str, value: int, maximum: int, colour: str, width: int = BAR_WIDTH) -> Text:
    """``HP ██████░░░░ 60/100``: a filled share of ``width`` cells."""
    share = 0.0 if maximum <= 0 else min(1.0, max(0.0, value / maximum))
    filled = round(share * width)
    text = Text(f"{label} ", Style(bold=True))
    text.append("█" * filled, Style(color=colour))
    text.append("░" * (width - filled), Style(color="grey30"))
    text.append(f" {value}/{maximum}")
    return text


def experience_span(level: int, xp: int, level_xp: list[int]) -> tuple[int, int]:
    """(xp gained in this level, xp this level needs), from the zone's level thresholds."""
    if not level_xp:
        return xp, 0
    low = level_xp[level - 2] if 2 <= level <= len(level_xp) + 1 else 0
    if level - 1 >= len(level_xp):
        return xp - low, 0  # the level cap: nothing more to reach
    return xp - low, level_xp[level - 1] - low


def heading(dx: float, dy: float) -> str:
    """A compass word for a direction (y grows to the north)."""
    return HEADINGS[round(math.atan2(dy, dx) / (math.pi / 4)) % 8]


class SidePanel(Static):
    """Our character (level, health, experience, gold, last save) and who is in sight."""

    DEFAULT_CSS = """
    SidePanel { width: 38; height: 1fr; border: round $primary; padding: 0 1; }
    """

    def show(self, name: str, entered: Entered | None, me: Seen | None, progress: Progress,
             seen: Mapping[int, Seen], saved: Saved | None, saved_at: float) -> None:
        text = Text(clean_text(name, 32), Style(bold=True, color="yellow"))
        text.append(f"  level {progress.level}\n")
        hp, max_hp = ((me.hp, me.max_hp) if me is not None and me.max_hp
                      else (entered.hp, entered.max_hp) if entered else (0, 0))
        text.append_text(bar("HP", hp, max_hp, "red" if hp * 4 < max_hp else "green"))
        gained, needed = experience_span(progress.level, progress.xp,
                                         entered.level_xp if entered else [])
        text.append("\n")
        text.append_text(bar("XP", gained, needed, "bright_blue") if needed
                         else Text(f"XP {progress.xp} (top level)", Style(bold=True)))
        text.append(f"\ngold {progress.gold}")
        if progress.items:
            items = ", ".join(f"{count} {item}" for item, count in sorted(progress.items.items()))
            text.append(f"  items: {clean_text(items, 60)}")
        if saved is not None:
            text.append(f"\nsaved at {time.strftime('%H:%M:%S', time.localtime(saved_at))}",
                        Style(color="grey62"))
        text.append("\n\nin sight:\n", Style(bold=True))
        text.append_text(self.nearby(entered, me, seen))
        self.update(text)

    @staticmethod
    def nearby(entered: Entered | None, me: Seen | None, seen: Mapping[int, Seen]) -> Text:
        if entered is None:
            return Text("(not in a zone)")
        x, y = (me.x, me.y) if me is not None else (entered.x, entered.y)
        others = sorted((math.dist((x, y), (e.x, e.y)), eid, e) for eid, e in seen.items()
                        if eid != entered.entity_id)
        text = Text()
        for distance, _, entity in others[:NEARBY]:
            glyph, style = glyph_of(entity)
            text.append(glyph, style)
            where = (f"{distance:.0f} {heading(entity.x - x, entity.y - y)}"
                     if distance >= 0.5 else "here")
            health = "dead" if entity.dead else f"{entity.hp}/{entity.max_hp}"
            text.append(f" {clean_text(entity.name, 14):<14} {where:>6} {health}\n")
        if len(others) > NEARBY:
            text.append(f"... and {len(others) - NEARBY} more\n")
        if not others:
            text.append("nobody else\n")
        return text


class StatusLine(Static):
    """One line that always says what is happening (the app's ``status``)."""

    DEFAULT_CSS = """
    StatusLine { height: 1; background: $boost; color: $text; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "status", self._show)

    def _show(self, text: str) -> None:
        self.update(Text(text, Style(bold=True)))

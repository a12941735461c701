"""The terminal client's map: the zone around our character, drawn from the ``sync`` stream."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from shardkit.client.events import Seen
from shardkit.client.sync import KIND_PLAYER
from shardkit.zone.schemas import Entered, PortalSign

__all__ = ["ME", "NPC_STYLE", "PLAYER", "PORTAL", "MapGrid", "MapView", "glyph_of"]

ME = "@"  # our own character, always in the middle
PLAYER = "@"  # another player (another colour than ours)
PORTAL = "O"
DEAD = "%"
GROUND = "."
OUTSIDE = "#"  # beyond the zone's edge

ME_STYLE = Style(color="black", bgcolor="yellow", bold=True)
PLAYER_STYLE = Style(color="bright_cyan", bold=True)
NPC_STYLE = Style(color="bright_red", bold=True)
DEAD_STYLE = Style(color="grey50")
PORTAL_STYLE = Style(color="bright_magenta", bold=True)
GROUND_STYLE = Style(color="grey35")
FAR_STYLE = Style(color="grey19")  # ground beyond what the zone shows us
OUTSIDE_STYLE = Style(color="grey23")

UNBOUNDED = 1e9  # a zone size or view radius we were not told
MIN_ZOOM, MAX_ZOOM = 0.5, 8.0  # zone units per map column


def glyph_of(seen: Seen) -> tuple[str, Style]:
    """How an entity is drawn: players ``@``, creatures the first letter of their kind."""
    if seen.dead:
        return DEAD, DEAD_STYLE
    if seen.kind == KIND_PLAYER:
        return PLAYER, PLAYER_STYLE
    letter = next((ch for ch in seen.name if ch.isalpha()), "n")
    return letter.lower(), NPC_STYLE


@dataclass(frozen=True)
class MapGrid:
    """Which zone point each character cell shows: ``cols`` x ``rows`` around a centre.

    A cell is ``zoom`` units wide and twice as tall (a terminal cell is about twice as high
    as it is wide); y grows to the north, so the top row is the northern edge.
    """

    cols: int
    rows: int
    cx: float
    cy: float
    zoom: float

    def cell_of(self, x: float, y: float) -> tuple[int, int] | None:
        """The (column, row) showing zone point (x, y), or None if it is off the map."""
        col = self.cols // 2 + math.floor((x - self.cx) / self.zoom + 0.5)
        row = self.rows // 2 - math.floor((y - self.cy) / (2 * self.zoom) + 0.5)
        if 0 <= col < self.cols and 0 <= row < self.rows:
            return col, row
        return None

    def point_of(self, col: int, row: int) -> tuple[float, float]:
        """The zone point in the middle of a cell."""
        return (self.cx + (col - self.cols // 2) * self.zoom,
                self.cy - (row - self.rows // 2) * 2 * self.zoom)


def _span(low: float, high: float, origin: float, step: float, count: int,
          middle: int) -> tuple[int, int]:
    """The cells [first, last) whose middle lies within [low, high] along one axis."""
    first = max(0, math.ceil((low - origin) / step - 1e-9) + middle)
    last = min(count, math.floor((high - origin) / step + 1e-9) + middle + 1)
    return first, max(first, last)


def draw(grid: MapGrid, seen: Mapping[int, Seen], me: int, entered: Entered | None,
         ) -> list[list[tuple[str, Style]]]:
    """The map's cells: ground, the zone's edge, portals, then everyone in view, us on top."""
    width = entered.width if entered and entered.width else UNBOUNDED
    height = entered.height if entered and entered.height else UNBOUNDED
    view = entered.view_radius if entered else UNBOUNDED
    cols, middle = grid.cols, grid.cols // 2
    outside = (OUTSIDE, OUTSIDE_STYLE)
    cells: list[list[tuple[str, Style]]] = []
    for row in range(grid.rows):
        _, y = grid.point_of(0, row)
        if not 0 <= y <= height:
            cells.append([outside] * cols)
            continue
        first, last = _span(0.0, width, grid.cx, grid.zoom, cols, middle)
        line = [outside] * first + [(GROUND, FAR_STYLE)] * (last - first) + [outside] * (
            cols - last)
        reach = view * view - (y - grid.cy) ** 2
        if reach >= 0:
            near_first, near_last = _span(grid.cx - math.sqrt(reach), grid.cx + math.sqrt(reach),
                                          grid.cx, grid.zoom, cols, middle)
            for col in range(max(first, near_first), min(last, near_last)):
                line[col] = (GROUND, GROUND_STYLE)
        cells.append(line)
    for portal in entered.portals if entered else ():
        for col, row in _area_cells(grid, portal):
            cells[row][col] = (PORTAL, PORTAL_STYLE)
    others = sorted(((e.kind == KIND_PLAYER, not e.dead, eid, e) for eid, e in seen.items()
                     if eid != me), key=lambda t: (t[0], t[1]))
    for _, _, _, entity in others:  # living players drawn last: on top of creatures and dead
        at = grid.cell_of(entity.x, entity.y)
        if at is not None:
            cells[at[1]][at[0]] = glyph_of(entity)
    centre = grid.cell_of(grid.cx, grid.cy)
    if centre is not None and entered is not None:
        cells[centre[1]][centre[0]] = (ME, ME_STYLE)
    return cells


def _area_cells(grid: MapGrid, portal: PortalSign) -> Iterable[tuple[int, int]]:
    """The cells whose middle lies in a portal's area (at least the one of its centre)."""
    cols = _span(portal.x, portal.x + portal.width, grid.cx, grid.zoom, grid.cols,
                 grid.cols // 2)
    # rows count downwards from the north: flip the axis to use the same span rule
    rows = _span(-(portal.y + portal.height), -portal.y, -grid.cy, 2 * grid.zoom, grid.rows,
                 grid.rows // 2)
    if cols[0] < cols[1] and rows[0] < rows[1]:
        for row in range(*rows):
            for col in range(*cols):
                yield col, row
        return
    at = grid.cell_of(portal.x + portal.width / 2, portal.y + portal.height / 2)
    if at is not None:
        yield at


class MapView(Widget):
    """The zone around our character; ``+`` and ``-`` zoom. ``lines`` is what it last drew."""

    DEFAULT_CSS = """
    MapView { width: 1fr; height: 1fr; border: round $primary; }
    MapView:focus { border: round $accent; }
    """
    can_focus = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.seen: Mapping[int, Seen] = {}
        self.me = 0
        self.entered: Entered | None = None
        self.centre = (0.0, 0.0)
        self.zoom = 2.0
        self.lines: list[str] = []
        self.grid = MapGrid(1, 1, 0.0, 0.0, self.zoom)

    def show(self, seen: Mapping[int, Seen], entered: Entered | None,
             centre: tuple[float, float]) -> None:
        """Draw this view next (our entity is ``entered.entity_id``, at ``centre``)."""
        self.seen, self.entered, self.centre = seen, entered, centre
        self.me = entered.entity_id if entered else 0
        if entered is not None:
            self.border_title = f"{entered.zone}  ({centre[0]:.0f}, {centre[1]:.0f})"
        self.refresh()

    def zoom_by(self, factor: float) -> None:
        self.zoom = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom * factor))
        self.border_subtitle = f"{self.zoom:g} units per column"
        self.refresh()

    def render(self) -> Text:
        size = self.content_region.size
        self.grid = MapGrid(max(1, size.width), max(1, size.height), *self.centre, self.zoom)
        cells = draw(self.grid, self.seen, self.me, self.entered)
        text = Text(no_wrap=True, overflow="crop")
        lines: list[str] = []
        for number, row in enumerate(cells):
            if number:
                text.append("\n")
            run, run_style = "", None
            for glyph, style in row:  # one span per run of a style: cheap to draw
                if style is not run_style and run:
                    text.append(run, run_style)
                    run = ""
                run, run_style = run + glyph, style
            if run:
                text.append(run, run_style)
            lines.append("".join(glyph for glyph, _ in row))
        self.lines = lines
        return text

    def glyph_at(self, x: float, y: float) -> str:
        """The character the map last showed at zone point (x, y) ("" if off the map)."""
        at = self.grid.cell_of(x, y)
        if at is None or at[1] >= len(self.lines):
            return ""
        return self.lines[at[1]][at[0]]

"""The zone's fixed-tick simulation: entities moved by their input, a spatial grid for who sees whom."""

from __future__ import annotations

import math
from collections.abc import Iterator


class Entity:
    """Something in the zone with a position; players carry their connection elsewhere."""

    __slots__ = ("cell", "dx", "dy", "id", "moved", "name", "x", "y")

    def __init__(self, entity_id: int, name: str, x: float, y: float) -> None:
        self.id = entity_id
        self.name = name
        self.x = x
        self.y = y
        self.dx = 0.0
        self.dy = 0.0
        self.cell: tuple[int, int] = (0, 0)
        self.moved = True


class SpatialGrid:
    """Buckets entities by square cells of ``cell_size`` so neighbours are found without a full scan."""

    def __init__(self, cell_size: float) -> None:
        self.cell_size = cell_size
        self.cells: dict[tuple[int, int], set[Entity]] = {}

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        return (int(x // self.cell_size), int(y // self.cell_size))

    def insert(self, entity: Entity) -> None:
        entity.cell = self.cell_of(entity.x, entity.y)
        self.cells.setdefault(entity.cell, set()).add(entity)

    def remove(self, entity: Entity) -> None:
        bucket = self.cells.get(entity.cell)
        if bucket is not None:
            bucket.discard(entity)
            if not bucket:
                del self.cells[entity.cell]

    def moved(self, entity: Entity) -> None:
        cell = self.cell_of(entity.x, entity.y)
        if cell != entity.cell:
            self.remove(entity)
            entity.cell = cell
            self.cells.setdefault(cell, set()).add(entity)

    def near(self, entity: Entity, radius: float) -> Iterator[Entity]:
        """Entities within ``radius`` of ``entity`` (itself included)."""
        reach = math.ceil(radius / self.cell_size)
        cx, cy = entity.cell
        r2 = radius * radius
        x, y = entity.x, entity.y
        cells = self.cells
        for gx in range(cx - reach, cx + reach + 1):
            for gy in range(cy - reach, cy + reach + 1):
                bucket = cells.get((gx, gy))
                if not bucket:
                    continue
                for other in bucket:
                    ox, oy = other.x - x, other.y - y
                    if ox * ox + oy * oy <= r2:
                        yield other


class Simulation:
    """Moves entities at ``speed`` units/s along their input direction, inside the zone's bounds."""

    def __init__(
        self, *, width: float = 1000.0, height: float = 1000.0, speed: float = 8.0,
        view_radius: float = 60.0,
    ) -> None:
        self.width = width
        self.height = height
        self.speed = speed
        self.view_radius = view_radius
        self.grid = SpatialGrid(view_radius)
        self.entities: dict[int, Entity] = {}
        self.tick = 0

    def add(self, entity: Entity) -> None:
        entity.x = min(max(entity.x, 0.0), self.width)
        entity.y = min(max(entity.y, 0.0), self.height)
        self.entities[entity.id] = entity
        self.grid.insert(entity)

    def remove(self, entity_id: int) -> Entity | None:
        entity = self.entities.pop(entity_id, None)
        if entity is not None:
            self.grid.remove(entity)
        return entity

    def set_input(self, entity_id: int, dx: float, dy: float) -> None:
        entity = self.entities.get(entity_id)
        if entity is None or not (math.isfinite(dx) and math.isfinite(dy)):
            return
        length = math.hypot(dx, dy)
        if length > 1.0:
            dx, dy = dx / length, dy / length
        entity.dx, entity.dy = dx, dy

    def step(self, dt: float) -> None:
        """Advance one tick: move everyone with input, keep them in bounds."""
        self.tick += 1
        distance = self.speed * dt
        width, height, grid = self.width, self.height, self.grid
        for entity in self.entities.values():
            if entity.dx == 0.0 and entity.dy == 0.0:
                entity.moved = False
                continue
            x = min(max(entity.x + entity.dx * distance, 0.0), width)
            y = min(max(entity.y + entity.dy * distance, 0.0), height)
            entity.moved = x != entity.x or y != entity.y
            entity.x, entity.y = x, y
            if entity.moved:
                grid.moved(entity)

    def visible_to(self, entity: Entity) -> Iterator[Entity]:
        return self.grid.near(entity, self.view_radius)

"""Neighbour queries on entity positions (a k-d tree per query batch) and free points in an area."""

from __future__ import annotations

import random

import numpy as np
from scipy.spatial import cKDTree

from shardkit.content import Area


class PointIndex:
    """A k-d tree over the positions of some slots, built once and queried in batches."""

    def __init__(self, slots: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        self.slots = slots
        self.size = len(slots)
        points = np.column_stack((x[slots], y[slots])) if self.size else np.zeros((0, 2))
        self.tree = cKDTree(points, leafsize=16, balanced_tree=False, compact_nodes=False)

    def nearest(self, points: np.ndarray, k: int, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """(distances, slots) of the ``k`` nearest within ``radius`` of each point, nearest first.

        Missing neighbours have distance inf and slot -1. Both arrays are (len(points), k).
        """
        if self.size == 0 or len(points) == 0:
            return np.full((len(points), k), np.inf), np.full((len(points), k), -1, np.int64)
        dist, index = self.tree.query(points, k=k, distance_upper_bound=radius)
        if k == 1:
            dist, index = dist[:, None], index[:, None]
        found = index < self.size
        slots = np.where(found, self.slots[np.minimum(index, self.size - 1)], -1)
        return dist, slots

    def within(self, x: float, y: float, radius: float) -> np.ndarray:
        """Slots within ``radius`` of (x, y), in no particular order."""
        if self.size == 0:
            return np.zeros(0, np.int64)
        return self.slots[np.asarray(self.tree.query_ball_point((x, y), radius), np.int64)]


def free_point(area: Area, rng: random.Random, xs: np.ndarray, ys: np.ndarray, *,
               separation: float = 1.5, attempts: int = 24) -> tuple[float, float]:
    """A random point of ``area`` at least ``separation`` from every (xs, ys) point.

    Tries ``attempts`` random points; if none is free (a packed area), the least crowded one
    (farthest from its nearest neighbour) is returned, so a caller always gets a point.
    """
    margin = separation
    near = ((xs >= area.x - margin) & (xs <= area.x + area.width + margin)
            & (ys >= area.y - margin) & (ys <= area.y + area.height + margin))
    px, py = xs[near], ys[near]
    best, best_gap = (area.x, area.y), -1.0
    for _ in range(attempts):
        x = area.x + rng.random() * area.width
        y = area.y + rng.random() * area.height
        gap = float(np.min(np.hypot(px - x, py - y))) if len(px) else np.inf
        if gap >= separation:
            return x, y
        if gap > best_gap:
            best, best_gap = (x, y), gap
    return best

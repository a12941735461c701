"""Messages of a daemon's world layout: its WorldServers and imps as its status call shows them."""

from __future__ import annotations

import msgspec


class ClusterStatus(msgspec.Struct):
    """One WorldServer as its daemon supervises it.

    ``state``: ``waiting`` (for its imp, or for its first start), ``starting`` (process up,
    not yet registered), ``running`` (registered, taking players), ``backing_off`` (exited;
    restarts at ``next_start_in_s``), ``crash_loop`` (as backing_off, after too many quick exits
    in a row), ``unlinked`` (its imp's link is down: it may well still serve its players),
    ``stopped``. Times are wall-clock seconds since the epoch.
    """

    number: int
    zones: list[str]
    runs_on: str  # the config's choice: "local", "imp:<name>" or "imp"
    host: str  # where it runs now: "local", "imp:<name>", or "" while not placed
    state: str
    crash_loop: bool
    pid: int | None
    address: str  # "host:port" clients reach it at, once registered
    players: int
    starts: int
    restarts: int
    uptime_s: float
    next_start_in_s: float
    last_exit: str
    start_times: list[float]
    exit_times: list[float]


class ImpStatus(msgspec.Struct):
    """A WorldImp as its daemon knows it."""

    name: str
    host: str  # the host name it reported
    address: str  # the address its WorldServers are reached at
    capacity: int  # WorldServers it may run
    linked: bool
    clusters: list[int]  # cluster numbers placed on it


class WorldLayout(msgspec.Struct):
    """Answer of ``world_layout``: every WorldServer and imp of the daemon's world."""

    world: str
    clusters: list[ClusterStatus]
    imps: list[ImpStatus]

"""Messages of an imp's link: who the imp is, what its daemon asks it to run, and exits."""

from __future__ import annotations

import msgspec


class StartWorld(msgspec.Struct, array_like=True):
    """Daemon -> imp: start the WorldServer of this cluster, dialing back to this daemon."""

    world: str
    cluster: int
    daemon_host: str
    daemon_port: int


class StopWorld(msgspec.Struct, array_like=True):
    world: str
    cluster: int


class Started(msgspec.Struct):
    ok: bool
    pid: int | None


class ImpWorld(msgspec.Struct):
    """A WorldServer an imp runs."""

    world: str
    cluster: int
    pid: int | None
    starts: int


class WorldExit(msgspec.Struct, array_like=True):
    """Imp -> daemon: a WorldServer it started has exited (``reason`` as a person reads it)."""

    world: str
    cluster: int
    pid: int | None
    code: int
    reason: str


class ImpHello(msgspec.Struct, array_like=True):
    """Imp -> daemon, first thing on every (re)connect: who and where it is, what it runs."""

    host: str  # its host name
    address: str  # where clients reach the WorldServers it starts
    capacity: int  # how many WorldServers it may run
    running: list[ImpWorld]
    exits: list[WorldExit]  # exits it could not report while the link was down


class ImpWelcome(msgspec.Struct):
    """Daemon -> imp, the answer to ``imp_hello``: how often to ping, and when to give up."""

    world: str
    heartbeat_s: float
    timeout_s: float


STANDBY_READY = "world standby ready"
"""The line a standby WorldServer prints once it can be handed a cluster (imp/standby.py)."""


class StandbyAssignment(msgspec.Struct):
    """Imp -> its standby WorldServer (a private file, then SIGUSR1): the cluster to run."""

    world: str
    cluster: int
    daemon_ip: str
    daemon_port: int

"""Messages of an imp's link: what its daemon asks it to run."""

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

"""Messages of the master port (2002): player login and world entry, the world registry."""

from __future__ import annotations

from typing import Annotated

import msgspec

ClusterNumber = Annotated[int, msgspec.Meta(ge=0, le=65535)]


# ------------------------------------------------------------------ players
class RegisterParams(msgspec.Struct, array_like=True):
    username: str
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int
    registration_key: str = ""  # needed when the master has registration_keys_required


class ChangePassword(msgspec.Struct, array_like=True):
    """A new client-made SCRAM verifier for the logged-in account."""

    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int


class LoginStart(msgspec.Struct, array_like=True):
    username: str
    client_first: str


class LoginFinish(msgspec.Struct, array_like=True):
    client_final: str


class EnterWorld(msgspec.Struct, array_like=True):
    world: str
    cluster: ClusterNumber | None = None  # a WorldServer of the world; None: its entry point


class LeaveQueue(msgspec.Struct, array_like=True):
    world: str = ""  # "" or the world queued for


class RegistrationRules(msgspec.Struct):
    iterations: int
    min_password_length: int
    name_pattern: str
    registration_key_required: bool = False


class AccountInfo(msgspec.Struct):
    account_id: int
    name: str
    role: str


class LoginStarted(msgspec.Struct):
    server_first: str


class LoginDone(msgspec.Struct):
    server_final: str
    account: AccountInfo


class WorldInfo(msgspec.Struct):
    name: str
    status: str  # "up", "full", "rebooting" (or another status its daemon reports) or "down"
    population: int
    capacity: int
    queue: int = 0  # players waiting to get in


class WorldEntry(msgspec.Struct):
    world: str
    host: str  # the entry point's address (another cluster's: the client knows it)
    port: int
    ticket: bytes
    cluster: int = 0  # the WorldServer the ticket admits to


class QueuePlace(msgspec.Struct):
    """enter_world's answer when the world is full: the player now waits in its queue."""

    world: str
    position: int  # 1 = next in line
    queued: bool = True


# ----------------------------------------------------------------- services
class AnnounceWorld(msgspec.Struct, array_like=True):
    name: str
    host: str  # clients dial host:port for the world
    port: int
    characters_host: str  # the character server dials this for the daemon's 7001
    characters_port: int
    capacity: int
    cluster: int = 0  # the WorldServer at host:port; world tickets name it ("<world>/<cluster>")


class Heartbeat(msgspec.Struct, array_like=True):
    name: str
    population: int
    status: str = "up"
    crash_loops: list[str] = []  # WorldServers (cluster numbers) the daemon marks crash-looping


class DaemonAddress(msgspec.Struct):
    """Where the character server reaches a world's daemon (sent on announce)."""

    world: str
    host: str
    port: int

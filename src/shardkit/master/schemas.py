"""Messages of the master port (2002): player login and world entry, and the services' world registry."""

from __future__ import annotations

import msgspec


# ------------------------------------------------------------------ players
class RegisterParams(msgspec.Struct, array_like=True):
    username: str
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


class RegistrationRules(msgspec.Struct):
    iterations: int
    min_password_length: int
    name_pattern: str


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
    status: str  # "up", "full" or "down"
    population: int
    capacity: int


class WorldEntry(msgspec.Struct):
    world: str
    host: str
    port: int
    ticket: bytes


# ----------------------------------------------------------------- services
class AnnounceWorld(msgspec.Struct, array_like=True):
    name: str
    host: str  # clients dial host:port for the world
    port: int
    characters_host: str  # the character server dials this for the daemon's 7001
    characters_port: int
    capacity: int


class Heartbeat(msgspec.Struct, array_like=True):
    name: str
    population: int
    status: str = "up"


class DaemonAddress(msgspec.Struct):
    """Where the character server reaches a world's daemon (sent on announce)."""

    world: str
    host: str
    port: int


class WorldAnnounced(msgspec.Struct, array_like=True):
    """Notification master -> character server: a world's daemon takes characters at host:port."""

    world: str
    host: str
    port: int

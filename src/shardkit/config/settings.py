"""Typed cluster settings read from serverconfig/: server.toml, worlds/<name>.toml and secrets.toml.

Every setting has a safe default (everything binds to 127.0.0.1 until you say
otherwise); secrets have none and are generated on first use into a file only its
owner can read. Unknown keys are errors, so a typo never silently does nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets as pysecrets
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from shardkit.config.tokens import pasteable_token

CONFIG_DIR = "serverconfig"
Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
LOOPBACK_ONLY = ["127.0.0.1/32", "::1/128"]


class ConfigError(Exception):
    """A config file is missing, malformed or has a bad value; the message says where."""


class Console(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 0
    username: str = "admin"
    allowed_ips: list[str] = msgspec.field(default_factory=lambda: list(LOOPBACK_ONLY))


class Cluster(msgspec.Struct, forbid_unknown_fields=True):
    data_dir: str = "data"
    bind: str = "127.0.0.1"  # where the game and service ports listen
    public_address: str = "127.0.0.1"  # what the master tells clients and peers to dial
    content_dir: str = ""  # world content (zones, ...); "" = the content shipped with shardkit
    log_level: str = "INFO"
    # a supervised process whose event loop is silent this long is killed and restarted
    hang_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    metrics_host: str = "127.0.0.1"  # where every process's /metrics endpoint listens


class Master(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"  # where daemons and the character server find the master
    port: int = 2002
    database_url: str = ""  # empty: SQLite file master.db in the data directory
    scram_iterations: int = 4096
    ticket_ttl_s: float = 30.0
    heartbeat_timeout_s: float = 6.0
    session_policy: Literal["replace", "refuse"] = "replace"  # a second login of an account
    registration_keys_required: bool = False  # closed beta: register needs a single-use key
    login_failures_per_ip: int = 10  # failed password checks per IP within the window
    login_failures_per_account: int = 30  # ... per account name, from IPs it never logged in from
    login_failure_window_s: float = 60.0
    login_backoff_s: float = 5.0  # first lockout; doubles with each further one
    login_backoff_max_s: float = 900.0
    registrations_per_ip: int = 20  # accounts one IP may register within the window
    registration_window_s: float = 600.0
    queue_max: int = 5000  # players waiting per full world
    status_host: str = "127.0.0.1"  # HTTP status page and the master's /metrics
    status_port: Port = 8081  # 0: any free port
    manhole: Console = msgspec.field(default_factory=lambda: Console(port=8192))


class RateLimit(msgspec.Struct, forbid_unknown_fields=True):
    """A burst of actions at once, then so many a minute."""

    burst: Annotated[int, msgspec.Meta(ge=1)] = 5
    per_minute: Annotated[float, msgspec.Meta(gt=0)] = 10.0


class GMRateLimits(msgspec.Struct, forbid_unknown_fields=True):
    """What each game master may do of the destructive GM commands (admins too)."""

    ban: RateLimit = msgspec.field(default_factory=lambda: RateLimit(5, 10.0))  # ban, unban
    grant: RateLimit = msgspec.field(default_factory=lambda: RateLimit(10, 30.0))  # grant, take
    kick: RateLimit = msgspec.field(default_factory=lambda: RateLimit(10, 30.0))


class GM(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 1998
    database_url: str = ""
    metrics_port: Port = 0  # /metrics on cluster.metrics_host; 0: any free port (announced)
    rate_limits: GMRateLimits = msgspec.field(default_factory=GMRateLimits)


class Characters(msgspec.Struct, forbid_unknown_fields=True):
    database_url: str = ""
    save_interval_s: float = 30.0
    restore_days: float = 30.0  # a GM may restore a deleted character for this long
    max_per_account: Annotated[int, msgspec.Meta(ge=1)] = 8  # undeleted characters, per world
    metrics_port: Port = 0  # /metrics on cluster.metrics_host; 0: any free port (announced)


class Web(msgspec.Struct, forbid_unknown_fields=True):
    """The web process: static files (browser client, dashboard) and the WebSocket bridge."""

    enabled: bool = True  # `shardkit up` starts it
    host: str = "127.0.0.1"
    port: Port = 8080  # 0: any free port
    metrics_port: Port = 0  # /metrics on cluster.metrics_host; 0: any free port (announced)
    static_dir: str = ""  # "" = the pages shipped with shardkit
    tls_cert: str = ""  # PEM certificate (chain) file; with tls_key, the web port speaks HTTPS/WSS
    tls_key: str = ""  # PEM private key file
    allowed_origins: list[str] = msgspec.field(default_factory=list)  # [] = any page may use /ws
    max_message_bytes: Annotated[int, msgspec.Meta(ge=256)] = 16 * 1024  # browser -> cluster
    # cluster -> browser
    max_server_message_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 1024 * 1024
    # per link, each way
    max_in_flight_bytes: Annotated[int, msgspec.Meta(ge=16 * 1024)] = 256 * 1024
    idle_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 300.0  # session without any message
    session_linger_s: Annotated[float, msgspec.Meta(ge=0)] = 60.0  # session kept with no link open
    connect_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    sessions_burst: Annotated[int, msgspec.Meta(ge=1)] = 10  # new sessions one IP may open at once
    sessions_per_s: Annotated[float, msgspec.Meta(gt=0)] = 0.2  # ... and then per second
    max_links_per_ip: Annotated[int, msgspec.Meta(ge=1)] = 32
    max_links_per_session: Annotated[int, msgspec.Meta(ge=1)] = 4
    max_links: Annotated[int, msgspec.Meta(ge=1)] = 10_000


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True):
    cluster: Cluster = msgspec.field(default_factory=Cluster)
    master: Master = msgspec.field(default_factory=Master)
    gm: GM = msgspec.field(default_factory=GM)
    characters: Characters = msgspec.field(default_factory=Characters)
    web: Web = msgspec.field(default_factory=Web)


class Daemon(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"  # where world servers and imps reach this daemon
    world_port: int = 7000
    characters_port: int = 7001
    imp_port: int = 7005
    metrics_port: Port = 0  # /metrics on cluster.metrics_host; 0: any free port (announced)
    console: Console = msgspec.field(default_factory=lambda: Console(port=7002))


class ClusterSpec(msgspec.Struct, forbid_unknown_fields=True):
    """One WorldServer: its number, its zones, and where it runs."""

    number: int = 0
    zones: list[str] = msgspec.field(default_factory=lambda: ["town"])
    # "local" (the daemon's host), "imp:<name>" (that WorldImp's host), or "imp" (the linked
    # imp with the most room, by the capacity the imps report)
    runs_on: Annotated[str, msgspec.Meta(pattern=r"^(local|imp|imp:[A-Za-z0-9_.-]{1,64})$")] = (
        "local")


class Supervision(msgspec.Struct, forbid_unknown_fields=True):
    """How a daemon restarts its WorldServers (daemon/restarts.py)."""

    backoff_s: Annotated[float, msgspec.Meta(gt=0)] = 0.5  # first restart after a crash
    backoff_max_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0  # doubling stops here
    stable_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0  # a run this long resets the back-off
    crash_loop_exits: Annotated[int, msgspec.Meta(ge=2)] = 4  # quick exits in a row: crash loop
    link_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 20.0  # running, not linked: killed
    imp_heartbeat_s: Annotated[float, msgspec.Meta(gt=0)] = 1.0  # imp link pings
    imp_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 4.0  # no ping this long: link dropped


class RebootSchedule(msgspec.Struct, forbid_unknown_fields=True):
    """A world's daily reboot (``[reboot]`` in its file): off unless ``daily_at`` is set."""

    daily_at: Annotated[str, msgspec.Meta(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9])?$")] = ""
    countdown_s: Annotated[float, msgspec.Meta(ge=0)] = 600.0  # players warned this long before
    skip_within_h: Annotated[float, msgspec.Meta(ge=0)] = 6.0  # skipped if rebooted this recently


class WorldSettings(msgspec.Struct, forbid_unknown_fields=True):
    name: str = "Atlantis"
    capacity: int = 1000
    world_port: int = 2006  # + cluster number
    ssh_port: int = 6000  # + cluster number
    zone_base_port: int = 29000  # + 100 x cluster number + zone index
    metrics_port: Port = 0  # WorldServer /metrics, + cluster number; 0: any free port
    zone_metrics_base_port: Port = 0  # zone /metrics, + 100 x cluster + zone index; 0: any
    tick_hz: float = 10.0
    view_radius: float = 60.0
    chat_burst: Annotated[int, msgspec.Meta(ge=1)] = 5  # chat lines a character may send at once
    chat_per_s: Annotated[float, msgspec.Meta(gt=0)] = 1.0  # ... and then per second (zone + guild)
    daemon: Daemon = msgspec.field(default_factory=Daemon)
    ssh: Console = msgspec.field(default_factory=Console)
    reboot: RebootSchedule = msgspec.field(default_factory=RebootSchedule)
    clusters: list[ClusterSpec] = msgspec.field(default_factory=lambda: [ClusterSpec()])
    supervision: Supervision = msgspec.field(default_factory=Supervision)

    def cluster(self, number: int) -> ClusterSpec:
        for spec in self.clusters:
            if spec.number == number:
                return spec
        raise ConfigError(f"world '{self.name}' has no cluster {number}")


class Secrets(msgspec.Struct, forbid_unknown_fields=True):
    """Link secrets and console passwords, generated on first run (hex strings)."""

    master_link: str  # daemons, to the master
    characters_link: str  # the character server, to the master, the GM server and daemons
    daemon_link: str  # world servers and imps, to a daemon
    ticket_key: str  # master signs world tickets, world servers check them
    manhole_password: str
    daemon_console_password: str
    world_console_password: str
    # per-world keys (hex) for a machine that must not hold the cluster secrets above:
    # world_keys[W] replaces the key derived from master_link (the daemon of W, to the master),
    # world_link_keys[W] the one derived from daemon_link (W's world servers and imps, to W's
    # daemon), world_ticket_keys[W] the one derived from ticket_key (tickets into W). The key
    # layout is in docs/architecture.md, "Keys".
    world_keys: dict[str, str] = msgspec.field(default_factory=dict)
    world_link_keys: dict[str, str] = msgspec.field(default_factory=dict)
    world_ticket_keys: dict[str, str] = msgspec.field(default_factory=dict)

    def key(self, field: str) -> bytes:
        return bytes.fromhex(getattr(self, field))

    def world_key(self, world: str) -> bytes:
        """World ``world``'s daemon proves this to the master: the master takes it from no other."""
        return _world_key(self.world_keys, self.master_link, world)

    def world_link_key(self, world: str) -> bytes:
        """World ``world``'s WorldServers and imps prove this to its daemon (and it to them)."""
        return _world_key(self.world_link_keys, self.daemon_link, world)

    def world_ticket_key(self, world: str) -> bytes:
        """The master signs tickets into ``world`` with this; only that world's servers hold it."""
        return _world_key(self.world_ticket_keys, self.ticket_key, world, "ticket")


def per_world_key(root: bytes, purpose: str, world: str) -> bytes:
    """One world's key from a cluster secret: HMAC-SHA256(root, "shardkit-world|purpose|world")."""
    message = f"shardkit-world|{purpose}|{world}".encode()
    return hmac.new(root, message, hashlib.sha256).digest()


def _world_key(configured: dict[str, str], root_hex: str, world: str,
               purpose: str = "link") -> bytes:
    if world in configured:
        return bytes.fromhex(configured[world])
    return per_world_key(bytes.fromhex(root_hex), purpose, world)


class Settings(msgspec.Struct):
    """Everything one machine of the cluster knows, and where it came from."""

    root: Path
    server: ServerSettings
    worlds: dict[str, WorldSettings]
    secrets: Secrets

    @property
    def config_dir(self) -> Path:
        return self.root / CONFIG_DIR

    @property
    def data_dir(self) -> Path:
        path = Path(self.server.cluster.data_dir)
        return path if path.is_absolute() else self.root / path

    def database_url(self, configured: str, filename: str) -> str:
        if configured:
            return configured
        return f"sqlite+aiosqlite:///{self.data_dir / filename}"

    def world(self, name: str) -> WorldSettings:
        try:
            return self.worlds[name]
        except KeyError:
            known = ", ".join(sorted(self.worlds)) or "none"
            raise ConfigError(
                f"no world '{name}' in {self.config_dir}/worlds (have: {known})"
            ) from None


def _decode(path: Path, kind: type) -> object:
    try:
        return msgspec.toml.decode(path.read_bytes(), type=kind)
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing") from None
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


_WORLD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


def is_world_name(name: str) -> bool:
    return _WORLD_NAME.fullmatch(name) is not None


def load_settings(root: Path) -> Settings:
    """Read serverconfig/ under root. Raises ConfigError naming the file and key at fault."""
    config_dir = root / CONFIG_DIR
    server = _decode(config_dir / "server.toml", ServerSettings)
    assert isinstance(server, ServerSettings)
    worlds: dict[str, WorldSettings] = {}
    for path in sorted((config_dir / "worlds").glob("*.toml")):
        world = _decode(path, WorldSettings)
        assert isinstance(world, WorldSettings)
        if not _WORLD_NAME.fullmatch(world.name):
            raise ConfigError(f"{path}: world name '{world.name}' must be 1-32 letters/digits/_-")
        if world.name in worlds:
            raise ConfigError(f"{path}: world '{world.name}' is defined twice")
        worlds[world.name] = world
    secrets_path = config_dir / "secrets.toml"
    secrets = _decode(secrets_path, Secrets)
    assert isinstance(secrets, Secrets)
    mode = secrets_path.stat().st_mode & 0o077
    if mode and os.name == "posix":
        raise ConfigError(f"{secrets_path} is readable by others; run: chmod 600 {secrets_path}")
    return Settings(root=root, server=server, worlds=worlds, secrets=secrets)


def generate_secrets() -> Secrets:
    def key() -> str:
        return pysecrets.token_hex(32)

    def password() -> str:
        return pasteable_token(18)

    return Secrets(key(), key(), key(), key(), password(), password(), password())


def write_private(path: Path, text: str) -> None:
    """Create a file only its owner can read or write (fails if it exists)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def secrets_toml(secrets: Secrets) -> str:
    lines = ["# Generated by shardkit on first run. Keep private (mode 600); never commit.",
             "# Copy this file to every machine of the cluster."]
    for name in Secrets.__struct_fields__:
        value = getattr(secrets, name)
        if isinstance(value, str):
            lines.append(f'{name} = "{value}"')
    return "\n".join(lines) + "\n"

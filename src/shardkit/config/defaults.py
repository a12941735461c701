"""First run: write serverconfig/ with commented safe defaults and freshly generated secrets."""

from __future__ import annotations

from pathlib import Path

from shardkit.config.settings import (
    CONFIG_DIR,
    generate_secrets,
    secrets_toml,
    write_private,
)

SERVER_TOML = """\
# shardkit cluster settings: master, GM server and character server.
# Every value shown is the default; delete a line to go back to it.

[cluster]
data_dir = "data"              # databases, host keys and logs (relative to this folder's parent)
bind = "127.0.0.1"             # where game and service ports listen; "0.0.0.0" to open them
public_address = "127.0.0.1"   # the address clients and other machines are told to dial
content_dir = ""               # world content; "" = shipped default. Must match on every machine
log_level = "INFO"
hang_timeout_s = 15.0          # a process whose event loop stops this long is killed and restarted
metrics_host = "127.0.0.1"     # where every process serves Prometheus /metrics (keep it private)

[master]
host = "127.0.0.1"             # where daemons and the character server reach the master
port = 2002
database_url = ""              # "" = SQLite data/master.db; or "postgresql+asyncpg://user@host/db"
scram_iterations = 4096
ticket_ttl_s = 30.0
heartbeat_timeout_s = 6.0        # a world not heard from for this long is shown down
session_policy = "replace"       # second login of an account: "replace" the first, or "refuse" it
registration_keys_required = false   # true: register only with a key from the manhole ("keys new")
login_failures_per_ip = 10       # failed password checks per IP per window, then back-off
login_failures_per_account = 30  # ... per account, from IPs that never logged in to it
login_failure_window_s = 60.0
login_backoff_s = 5.0            # first lockout; doubles each time, up to login_backoff_max_s
login_backoff_max_s = 900.0
registrations_per_ip = 20        # new accounts per IP per registration_window_s
registration_window_s = 600.0
queue_max = 5000                 # players waiting per full world
status_host = "127.0.0.1"        # HTTP status page (/, /status.json, /healthz, /metrics)
status_port = 8081               # 0 = any free port

[master.manhole]               # telnet admin console; password is in secrets.toml
host = "127.0.0.1"
port = 8192
username = "admin"
allowed_ips = ["127.0.0.1/32", "::1/128"]

[gm]
host = "127.0.0.1"
port = 1998
database_url = ""              # "" = SQLite data/gm.db
metrics_port = 0               # /metrics on cluster.metrics_host; 0 = any free port (announced)
# Destructive GM commands, per game master: a burst, then so many a minute (these are the defaults).
# [gm.rate_limits]
# ban = { burst = 5, per_minute = 10.0 }     # ban and unban
# grant = { burst = 10, per_minute = 30.0 }  # grant and take gold and items
# kick = { burst = 10, per_minute = 30.0 }

[characters]
database_url = ""              # "" = SQLite data/characters.db
save_interval_s = 30.0         # periodic save of every character in play
restore_days = 30.0            # a GM may restore a deleted character for this many days
max_per_account = 8            # characters (not deleted) one account may have in one world
metrics_port = 0               # /metrics on cluster.metrics_host; 0 = any free port (announced)

[web]                          # static pages and the WebSocket bridge for browsers (docs/protocol.md)
enabled = true                 # shardkit up starts it
host = "127.0.0.1"             # "0.0.0.0" to let other machines' browsers in
port = 8080
metrics_port = 0               # /metrics on cluster.metrics_host; 0 = any free port (announced)
static_dir = ""                # "" = the pages shipped with shardkit
tls_cert = ""                  # PEM certificate file; set both to serve HTTPS and WSS
tls_key = ""                   # PEM private key file
allowed_origins = []           # pages allowed to open /ws, e.g. ["https://play.example.com"]; [] = any
max_message_bytes = 16384      # one message from a browser
max_server_message_bytes = 1048576   # one message to a browser
max_in_flight_bytes = 262144   # bytes buffered per link and direction before reading stops
idle_timeout_s = 300.0         # a session with no message either way for this long is closed
session_linger_s = 60.0        # a session with no link open is forgotten after this
connect_timeout_s = 5.0
sessions_burst = 10            # new sessions one IP may open at once...
sessions_per_s = 0.2           # ...and then this many per second
max_links_per_ip = 32          # WebSockets open at once from one IP
max_links_per_session = 4
max_links = 10000
"""

WORLD_TOML = """\
# One world: its daemon, its WorldServers ("clusters") and their zones.
name = "{name}"
capacity = 1000
world_port = 2006              # client port of cluster N is world_port + N
ssh_port = 6000                # SSH console of cluster N is ssh_port + N
zone_base_port = 29000         # zone i of cluster N listens on zone_base_port + 100*N + i
metrics_port = 0               # WorldServer N's /metrics on metrics_port + N; 0 = any free port
zone_metrics_base_port = 0     # zone i of cluster N: zone_metrics_base_port + 100*N + i; 0 = any
tick_hz = 10.0
view_radius = 60.0
chat_burst = 5                 # chat lines (zone and guild) a character may send at once...
chat_per_s = 1.0               # ...and then this many per second; faster ones get rate_limited

[daemon]
host = "127.0.0.1"             # where world servers and imps reach this daemon
world_port = 7000              # WorldServers connect here
characters_port = 7001         # the CharacterServer connects here
imp_port = 7005                # WorldImps connect here
metrics_port = 0               # /metrics on cluster.metrics_host; 0 = any free port (announced)

[daemon.console]               # telnet console; password is in secrets.toml
host = "127.0.0.1"
port = 7002
username = "admin"
allowed_ips = ["127.0.0.1/32", "::1/128"]

[ssh]                          # WorldServer SSH console; password is in secrets.toml
host = "127.0.0.1"
username = "admin"
allowed_ips = ["127.0.0.1/32", "::1/128"]

[supervision]                  # how the daemon restarts WorldServers that exit
backoff_s = 0.5                # first restart after a crash; doubles with each quick exit
backoff_max_s = 30.0           # ...up to this
stable_s = 30.0                # a run this long resets the back-off
crash_loop_exits = 4           # this many quick exits in a row: marked crash_loop
link_timeout_s = 20.0          # a local WorldServer running this long without its link: killed
imp_heartbeat_s = 1.0          # imps ping the daemon this often...
imp_timeout_s = 4.0            # ...and a link silent this long is dropped and re-dialled

[[clusters]]
number = 0
zones = ["town", "meadow"]
runs_on = "local"              # "imp:<name>": through that WorldImp; "imp": the imp with most room

[[clusters]]
number = 1
zones = ["harbor"]
runs_on = "local"
"""


def ensure_config(root: Path, world_name: str = "Atlantis") -> list[Path]:
    """Create whatever of serverconfig/ is missing; returns the files written."""
    config_dir = root / CONFIG_DIR
    (config_dir / "worlds").mkdir(parents=True, exist_ok=True)
    written = []
    server = config_dir / "server.toml"
    if not server.exists():
        server.write_text(SERVER_TOML)
        written.append(server)
    worlds = config_dir / "worlds"
    if not any(worlds.glob("*.toml")):
        world = worlds / f"{world_name}.toml"
        world.write_text(WORLD_TOML.format(name=world_name))
        written.append(world)
    secrets = config_dir / "secrets.toml"
    if not secrets.exists():
        write_private(secrets, secrets_toml(generate_secrets()))
        written.append(secrets)
    return written

"""The ``shardkit`` command: start any component, the whole cluster, or the terminal client."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from shardkit.config.settings import ConfigError, Settings, load_settings
from shardkit.db_commands import add_db_commands
from shardkit.runtime.main import run_until_signalled, setup_logging
from shardkit.runtime.private_files import restrict_umask, secure_data_dir


def _settings(args: argparse.Namespace) -> Settings:
    root = Path(args.root).resolve()
    try:
        settings = load_settings(root)
    except ConfigError as exc:
        sys.exit(f"shardkit: {exc}\n"
                 f"(run 'shardkit init' or 'shardkit up' in {root} to create the config)")
    setup_logging(settings.server.cluster.log_level, args.command)
    secure_data_dir(settings.data_dir, create=False)
    return settings


def cmd_init(args: argparse.Namespace) -> int:
    from shardkit.config.defaults import ensure_config

    written = ensure_config(Path(args.root).resolve())
    for path in written:
        print(f"created {path}")
    if not written:
        print("serverconfig/ is already complete")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from shardkit.up import run_up

    setup_logging("INFO", "up")
    return run_until_signalled(lambda stop: run_up(Path(args.root).resolve(), stop))


def cmd_master(args: argparse.Namespace) -> int:
    from shardkit.master.server import MasterServer

    return run_until_signalled(MasterServer(_settings(args)).run)


def cmd_gm(args: argparse.Namespace) -> int:
    from shardkit.gm.server import GMServer

    return run_until_signalled(GMServer(_settings(args)).run)


def cmd_characters(args: argparse.Namespace) -> int:
    from shardkit.characters.server import CharacterServer

    return run_until_signalled(CharacterServer(_settings(args)).run)


def cmd_daemon(args: argparse.Namespace) -> int:
    from shardkit.daemon.server import WorldDaemon

    settings = _settings(args)
    try:
        world = settings.world(args.world)
    except ConfigError as exc:
        sys.exit(f"shardkit: {exc}")
    return run_until_signalled(WorldDaemon(settings, world).run)


def cmd_world(args: argparse.Namespace) -> int:
    from shardkit.world.server import WorldServer

    settings = _settings(args)
    if args.standby:
        from shardkit.world.standby import run_standby

        standby = Path(args.standby)
        return run_until_signalled(lambda stop: run_standby(settings, standby, stop))
    if not args.world:
        sys.exit("shardkit: world needs --world (or --standby FILE, as an imp starts it)")
    try:
        server = WorldServer(settings, settings.world(args.world), args.cluster,
                             args.daemon_ip, args.daemon_port)
    except ConfigError as exc:
        sys.exit(f"shardkit: {exc}")
    return run_until_signalled(server.run)


def cmd_imp(args: argparse.Namespace) -> int:
    from shardkit.imp.agent import WorldImp

    settings = _settings(args)
    host, port = args.daemon_ip, args.daemon_port
    if args.daemon:
        host, _, given = args.daemon.rpartition(":")
        if not host or not given.isdigit():
            sys.exit("shardkit: --daemon takes HOST:PORT, e.g. 10.0.0.2:7005")
        port = int(given)
    if not host:
        sys.exit("shardkit: say where the daemon is: --daemon HOST:PORT (or --daemon-ip)")
    try:
        imp = WorldImp(settings, host, port, args.name, args.metrics_port,
                       capacity=args.capacity, address=args.address, standby=not args.no_standby,
                       world=args.world)
    except ConfigError as exc:
        sys.exit(f"shardkit: {exc}")
    return run_until_signalled(imp.run)


def cmd_zone(args: argparse.Namespace) -> int:
    from shardkit.zone.server import ZoneServer, zone_secret_from_env

    settings = _settings(args)
    secret = zone_secret_from_env()
    os.environ.pop("SHARDKIT_ZONE_SECRET", None)
    server = ZoneServer(settings, settings.world(args.world), args.zone, args.port, args.worldport,
                        args.bind, secret, args.metrics_port)
    return run_until_signalled(server.run)


def cmd_web(args: argparse.Namespace) -> int:
    from shardkit.web.server import WebServer

    settings = _settings(args)
    try:
        server = WebServer(settings)
    except ConfigError as exc:
        sys.exit(f"shardkit: {exc}")
    return run_until_signalled(server.run)


def cmd_gmtool(args: argparse.Namespace) -> int:
    from shardkit.client.gmtool.main import run_gm_tool

    return run_gm_tool(args)


def cmd_bots(args: argparse.Namespace) -> int:
    from shardkit.bots.main import run

    setup_logging("WARNING", "bots")
    return run(args)


def cmd_play(args: argparse.Namespace) -> int:
    """The full-screen client on a terminal; the line-based one with --plain or through pipes."""
    if args.plain or not (sys.stdin.isatty() and sys.stdout.isatty()):
        from shardkit.client.terminal import run_terminal_client

        return run_terminal_client(args.host, args.port)
    from shardkit.client.tui import run_tui

    return run_tui(args.host, args.port)


DESCRIPTION = """\
shardkit: an MMO server cluster. Start the whole cluster, one component of it,
or the terminal client."""

EPILOG = """\
getting started:
  shardkit up       start the whole cluster here (writes serverconfig/ on first run)
  shardkit play     play in the terminal (--plain: line by line, for scripts and screen readers)
  shardkit gmtool   work as a game master (shardkit gm runs the GM server)

Each command has its own help: shardkit <command> --help"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help as written here (plain text), with every command's description in one column."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        for command in getattr(action, "_choices_actions", ()):  # argparse forgets their indent
            width = len(self._format_action_invocation(command))
            self._action_max_length = max(
                self._action_max_length, width + self._current_indent + self._indent_increment)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shardkit", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=_HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>",
                                title="commands")

    def command(name: str, func: object, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--root", default=".", help="folder holding serverconfig/ (default: here)")
        p.set_defaults(func=func)
        return p

    command("init", cmd_init, "write serverconfig/ with safe defaults and new secrets")
    command("up", cmd_up, "start the whole cluster on this machine (Ctrl-C stops it)")
    command("master", cmd_master, "run the MasterServer")
    command("gm", cmd_gm, "run the GMServer")
    command("characters", cmd_characters, "run the CharacterServer")
    p = command("daemon", cmd_daemon, "run the WorldDaemon of one world")
    p.add_argument("--world", required=True)
    p = command("world", cmd_world,
                "run one WorldServer (normally started by its daemon or an imp)")
    p.add_argument("--world")
    p.add_argument("--standby", help="wait, imported, for an imp to hand over a cluster"
                                     " (it writes this file, then sends SIGUSR1)")
    p.add_argument("--cluster", type=int, default=0)
    p.add_argument("--daemon-ip", dest="daemon_ip")
    p.add_argument("--daemon-port", dest="daemon_port", type=int)
    p = command("imp", cmd_imp, "run a WorldImp that starts WorldServers for a daemon")
    p.add_argument("--daemon", help="the daemon's imp port, HOST:PORT (e.g. 10.0.0.2:7005)")
    p.add_argument("--daemon-ip", dest="daemon_ip", help="the daemon's host (or use --daemon)")
    p.add_argument("--daemon-port", dest="daemon_port", type=int, default=7005)
    p.add_argument("--no-standby", dest="no_standby", action="store_true",
                   help="keep no warm standby WorldServer (saves memory; starts take longer)")
    p.add_argument("--capacity", type=int, help="WorldServers it may run (default: CPU count)")
    p.add_argument("--address", help="where clients reach its WorldServers"
                                     " (default: cluster.public_address)")
    p.add_argument("--name", help="imp name the world config refers to (default: host name)")
    p.add_argument("--world", help="the world whose daemon this imp serves (default: the one"
                                   " world configured here)")
    p.add_argument("--metrics-port", dest="metrics_port", type=int, default=0,
                   help="port of its /metrics (on cluster.metrics_host; default 0: any free port)")
    p = command("zone", cmd_zone, "run one zone (normally started by its WorldServer)")
    p.add_argument("--world", required=True)
    p.add_argument("--zone", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--worldport", type=int, required=True)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--metrics-port", dest="metrics_port", type=int, default=0)
    command("web", cmd_web, "run the web process: pages for browsers and the WebSocket bridge")
    p = command("play", cmd_play, "play in this terminal (the terminal client)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2002)
    p.add_argument("--plain", action="store_true",
                   help="the line-based client (for scripts and screen readers; also chosen"
                        " when input or output is not a terminal)")
    p = command("bots", cmd_bots, "load bots: many players that log in, walk, talk and fight")
    from shardkit.bots.options import add_arguments as add_bot_arguments

    add_bot_arguments(p)
    p = command("gmtool", cmd_gmtool,
                "the GM tool: a game master's console, or --exec for scripts")
    from shardkit.client.gmtool.main import add_arguments as add_gmtool_arguments

    add_gmtool_arguments(p)
    add_db_commands(sub, _settings)
    return parser


def main(argv: list[str] | None = None) -> int:
    restrict_umask()  # whatever any shardkit process (or its children) creates is owner-only
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

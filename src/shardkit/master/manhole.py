"""The master's manhole: a telnet console for administrators (worlds, accounts, sessions, bans, kicks, keys)."""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import TYPE_CHECKING

from shardkit.console.access import AccessPolicy
from shardkit.console.commands import CommandSet, UsageError, int_arg
from shardkit.console.telnet import TelnetConsole, start_telnet_console
from shardkit.master.bans import PERMANENT_WORDS, ActiveBan, parse_duration, parse_network
from shardkit.runtime.main import announce
from shardkit.store.master_tables import ROLES

if TYPE_CHECKING:
    from shardkit.master.server import MasterServer

__all__ = ["build_commands", "start_manhole"]

log = logging.getLogger("shardkit.master")

CONSOLE_ACTOR = "manhole"


def _uptime(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


def _when(ban: ActiveBan) -> str:
    if ban.expires_at is None:
        return "permanent"
    return f"{max(1, round(ban.expires_at - time.time()))} s left"


def build_commands(master: MasterServer) -> CommandSet:
    """Every manhole command, bound to one running master."""
    commands = CommandSet()

    @commands.command("status", "uptime, sessions, logins and queues")
    async def status(args: list[str]) -> str:
        def logins(result: str) -> int:
            return int(master.metrics.value("shardkit_master_logins_total", result=result))

        return "\n".join([
            f"up {_uptime(master.uptime_s())}, {len(master.sessions)} players logged in",
            f"logins ok {logins('ok')}, refused "
            f"{sum(logins(c) for c in ('auth_failed', 'rate_limited', 'banned'))}, "
            f"queued {master.queues.total()}",
        ])

    @commands.command("worlds", "list worlds: status, population/capacity, queue")
    async def worlds(args: list[str]) -> str:
        rows = [f"{w.name:<16} {w.status:<9} {w.population}/{w.capacity}  queue {w.queue}"
                for w in master.gate.listing()]
        return "\n".join(rows) or "no worlds announced"

    @commands.command("accounts", "list accounts: accounts [limit] (1-1000, default 50)")
    async def accounts(args: list[str]) -> str:
        usage = "usage: accounts [limit]"
        if len(args) > 1:
            raise UsageError(usage)
        limit = int_arg(args, 0, default=50, low=1, high=1000, usage=usage)
        rows = await master.accounts.list(limit, 0)
        return "\n".join(f"{a.id:>6} {a.name:<20} {a.role}" for a in rows) or "no accounts"

    @commands.command("sessions", "list logged-in players: name, address, queue")
    async def sessions(args: list[str]) -> str:
        rows = []
        for conn in master.sessions:
            if conn.identity is None or conn.identity.account_id is None:
                continue
            world = master.queues.world_of(conn.identity.account_id)
            place = master.queues.position(conn.identity.account_id)
            waiting = f"  waiting for {world} (#{place})" if world else ""
            rows.append(f"{conn.identity.name:<20} {conn.peer_ip}{waiting}")
        return "\n".join(rows) or "nobody is logged in"

    @commands.command("queue", "players waiting for a world: queue <world>")
    async def queue(args: list[str]) -> str:
        if not args:
            return "usage: queue <world>"
        names = [f"{conn.identity.name} (#{master.queues.position(conn.identity.account_id)})"
                 for conn in master.sessions
                 if conn.identity and conn.identity.account_id is not None
                 and master.queues.world_of(conn.identity.account_id) == args[0]]
        return ", ".join(names) or f"nobody waits for {args[0]}"

    @commands.command("kick", "put a player out of the game everywhere: kick <name> [reason]")
    async def kick(args: list[str]) -> str:
        if not args:
            return "usage: kick <name> [reason]"
        record = await master.accounts.get_by_name(args[0])
        if record is None:
            return f"no account '{args[0]}'"
        reason = " ".join(args[1:]) or "kicked by an administrator"
        had_session, worlds = master.kick_account(record.id, reason, "manhole")
        return (f"kicked {record.name}: master session {'closed' if had_session else 'none'}, "
                f"told {worlds} world{'s' if worlds != 1 else ''}")

    @commands.command("ban", "ban <name|ip|cidr> [30m|2h|7d|perm] [reason]")
    async def ban(args: list[str]) -> str:
        if not args:
            return "usage: ban <name|ip|cidr> [30m|2h|7d|perm] [reason]"
        target, rest = args[0], args[1:]
        seconds: float | None = None
        if rest and (parse_duration(rest[0]) is not None or rest[0].lower() in PERMANENT_WORDS):
            seconds = parse_duration(rest[0])
            rest = rest[1:]
        reason = " ".join(rest)
        network = parse_network(target)
        if network is not None:
            added = await master.ban_network(network, reason, seconds, CONSOLE_ACTOR)
        else:
            record = await master.accounts.get_by_name(target)
            if record is None:
                return f"no account '{target}' (and not an IP address or CIDR range)"
            added = await master.ban_account(record.id, reason, seconds, CONSOLE_ACTOR)
        return f"banned {added.target} ({_when(added)}): {added.reason or 'no reason given'}"

    @commands.command("unban", "lift the bans on an account, IP or range: unban <name|ip|cidr>")
    async def unban(args: list[str]) -> str:
        if not args:
            return "usage: unban <name|ip|cidr>"
        network = parse_network(args[0])
        if network is not None:
            lifted = await master.unban_network(network, CONSOLE_ACTOR)
        else:
            record = await master.accounts.get_by_name(args[0])
            if record is None:
                return f"no account '{args[0]}'"
            lifted = await master.unban_account(record.id, CONSOLE_ACTOR)
        return f"lifted {lifted} ban{'s' if lifted != 1 else ''} on {args[0]}"

    @commands.command("bans", "list the bans in force")
    async def bans(args: list[str]) -> str:
        rows = [f"#{b.id:<5} {b.target:<24} {_when(b):<14} {b.reason}"
                for b in master.bans.in_force()]
        return "\n".join(rows) or "no bans in force"

    @commands.command("role", f"set an account's role: role <name> <{'|'.join(ROLES)}>")
    async def role(args: list[str]) -> str:
        if len(args) != 2 or args[1] not in ROLES:
            return f"usage: role <name> <{'|'.join(ROLES)}>"
        if not await master.accounts.set_role(args[0], args[1]):
            return f"no account '{args[0]}'"
        return f"{args[0]} is now {args[1]}"

    @commands.command("keys", "registration keys: keys new [count] [note] | keys [list]")
    async def keys(args: list[str]) -> str:
        usage = "usage: keys new [count 1-100] [note] | keys [list]"
        if args and args[0] == "new":
            count = int_arg(args, 1, default=1, low=1, high=100, usage=usage)
            made = await master.registration_keys.issue(
                count, created_by=CONSOLE_ACTOR, note=" ".join(args[2:]))
            return "\n".join(made)
        if args not in ([], ["list"]):
            raise UsageError(usage)
        rows = await master.registration_keys.list()
        return "\n".join(
            f"#{k.id:<5} {k.created_at:%Y-%m-%d} "
            f"{'used by ' + (k.used_by_name or '?') if k.used_at else 'unused':<24} {k.note}"
            for k in rows) or "no registration keys"

    @commands.command("broadcast", "send a message to every logged-in player")
    async def broadcast(args: list[str]) -> str:
        text = " ".join(args)
        if not text:
            return "usage: broadcast <text>"
        count = 0
        for conn in master.sessions:
            conn.notify("broadcast", text)
            count += 1
        return f"sent to {count} players"

    @commands.command("shutdown", "stop the master cleanly")
    async def shutdown(args: list[str]) -> str:
        master.request_stop()
        return "master shutting down"

    return commands


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def start_manhole(master: MasterServer) -> TelnetConsole:
    """Start the telnet console on the configured address and say where, and who may use it."""
    settings = master.settings
    manhole = settings.server.master.manhole
    policy = AccessPolicy(manhole.username, settings.secrets.manhole_password, manhole.allowed_ips)
    console = await start_telnet_console(
        manhole.host, manhole.port, policy=policy, commands=build_commands(master),
        banner="shardkit master manhole",
    )
    announce(f"master manhole (telnet) listening on {manhole.host}:{console.port}"
             f" allowing {', '.join(manhole.allowed_ips)}")
    if not _is_loopback(manhole.host):
        log.warning("the manhole is bound to %s: other machines can reach it (allowed: %s)",
                    manhole.host, ", ".join(manhole.allowed_ips))
    return console

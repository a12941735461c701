"""The GM tool's commands, one table: each command's words, help, completion and GM port call.

A command line is split like a shell's (quotes keep spaces); ``key=value`` words are options
(``who world=Atlantis``). A character is named ``Name`` or ``World/Name``. Each command runs
one or more calls of the GM port (gm/api.py) and returns the text to show; a refusal is the
server's ``RpcError``, a mistake in the line a ``UsageError``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from shardkit.characters.gm_schemas import ItemCount
from shardkit.client.gmtool import format as fmt
from shardkit.client.gmtool.export import export_audit
from shardkit.gm.api import GMApi
from shardkit.gm.schemas import AuditQuery

CHARACTER = "character"  # a completion kind: the names of characters in play


class UsageError(Exception):
    """The command line is not what the command takes; the message says what it takes."""


@dataclass
class Line:
    """A command's words after its name: positional words and ``key=value`` options."""

    words: list[str]
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, words: list[str], keys: frozenset[str]) -> Line:
        line = cls([])
        for word in words:
            key, eq, value = word.partition("=")
            if eq and key in keys:
                line.options[key] = value
            else:
                line.words.append(word)
        return line

    def rest(self, start: int) -> str:
        return " ".join(self.words[start:])


Handler = Callable[[GMApi, Line], Awaitable[str]]


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    run: Handler
    words: tuple[int, int] = (0, 0)  # least and most positional words (-1: any number)
    keys: frozenset[str] = frozenset()
    completes: tuple[str, ...] = ()  # what each positional word is, for completion
    choices: dict[int, tuple[str, ...]] = field(default_factory=dict)  # fixed words by position

    def check(self, line: Line) -> None:
        least, most = self.words
        if len(line.words) < least or (most >= 0 and len(line.words) > most):
            raise UsageError(f"usage: {self.usage}")


_DURATION = re.compile(r"([0-9]+)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
PERMANENT = ("perm", "permanent", "forever")


def duration(text: str, *, permanent_ok: bool) -> float | None:
    """``30s``, ``15m``, ``2h``, ``7d``, ``1w`` in seconds; ``perm`` is None (for good)."""
    if permanent_ok and text.lower() in PERMANENT:
        return None
    match = _DURATION.fullmatch(text.lower())
    if not match or int(match.group(1)) == 0:
        allowed = "30s, 15m, 2h, 7d, 1w" + (" or perm" if permanent_ok else "")
        raise UsageError(f"'{fmt.shown(text, 20)}' is not a duration ({allowed})")
    return float(int(match.group(1)) * _UNIT_S[match.group(2)])


def number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{what} '{fmt.shown(text, 20)}' is not a number") from None


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def amounts(words: list[str]) -> tuple[int, list[ItemCount]]:
    """``50 gold 2 wolf_pelt`` as (50, [wolf_pelt x2]): a count before each thing."""
    if not words or len(words) % 2:
        raise UsageError("name amounts as <count> <gold|item>, e.g. 50 gold 2 wolf_pelt")
    gold, items = 0, []
    for count_text, thing in zip(words[::2], words[1::2], strict=True):
        if not count_text.isdigit() or int(count_text) == 0:
            raise UsageError(f"'{fmt.shown(count_text, 20)}' is not a count (1, 2, ...)")
        if thing.lower() == "gold":
            gold += int(count_text)
        else:
            items.append(ItemCount(thing, int(count_text)))
    return gold, items


# ------------------------------------------------------------------ handlers


async def _who(api: GMApi, line: Line) -> str:
    result = await api.who(line.options.get("world", ""), line.options.get("zone", ""),
                           line.rest(0))
    return fmt.who(result)


async def _inspect(api: GMApi, line: Line) -> str:
    return fmt.report(await api.inspect(line.words[0], line.options.get("world", "")))


async def _kick(api: GMApi, line: Line) -> str:
    return fmt.kick(await api.kick(line.words[0], line.rest(1), line.options.get("world", "")))


async def _ban(api: GMApi, line: Line) -> str:
    target, seconds = line.words[0], duration(line.words[1], permanent_ok=True)
    if is_address(target):
        info = await api.ban(address=target, duration_s=seconds, reason=line.rest(2))
    else:
        info = await api.ban(account=target, duration_s=seconds, reason=line.rest(2))
    return fmt.ban(info)


async def _unban(api: GMApi, line: Line) -> str:
    target = line.words[0]
    lifted = await (api.unban(address=target) if is_address(target)
                    else api.unban(account=target))
    return f"lifted {lifted.lifted} ban(s) on {fmt.shown(target)}"


async def _bans(api: GMApi, line: Line) -> str:
    return fmt.bans(await api.bans())


async def _broadcast(api: GMApi, line: Line) -> str:
    world = line.words[0]
    return fmt.broadcast(await api.broadcast(line.rest(1), "" if world == "*" else world))


async def _grant(api: GMApi, line: Line) -> str:
    gold, items = amounts(line.words[1:])
    return fmt.items(await api.grant(line.words[0], gold, items, line.options.get("world", "")))


async def _take(api: GMApi, line: Line) -> str:
    gold, items = amounts(line.words[1:])
    return fmt.items(await api.take(line.words[0], gold, items, line.options.get("world", "")))


async def _rename(api: GMApi, line: Line) -> str:
    renamed = await api.rename(line.words[0], line.words[1], line.options.get("world", ""))
    return "renamed:\n" + fmt.character(renamed)


async def _deleted(api: GMApi, line: Line) -> str:
    limit = int(number(line.words[1], "limit")) if len(line.words) > 1 else 50
    return fmt.deleted(await api.deleted_characters(line.words[0], limit))


async def _restore(api: GMApi, line: Line) -> str:
    return fmt.restored(await api.restore_character(line.words[0], line.words[1]))


def _character(word: str) -> str:
    """A character named on the command line; ``me``: the GM's own ("" on the GM port)."""
    return "" if word.casefold() == "me" else word


async def _teleport(api: GMApi, line: Line) -> str:
    world = line.options.get("world", "")
    name = line.words[0]
    if len(line.words) == 3 and line.words[1] == "to":
        if _character(line.words[2]):
            await api.teleport_to(_character(name), line.words[2], world)
        else:
            await api.summon(name, world)
        return f"teleported {fmt.shown(name)} to {fmt.shown(line.words[2])}"
    if len(line.words) != 4:
        raise UsageError(f"usage: {TELEPORT_USAGE}")
    x, y = number(line.words[2], "x"), number(line.words[3], "y")
    await api.teleport(_character(name), line.words[1], x, y, world)
    return f"teleported {fmt.shown(name)} to {fmt.shown(line.words[1])} ({x:g}, {y:g})"


async def _goto(api: GMApi, line: Line) -> str:
    await api.goto(line.words[0], line.options.get("world", ""))
    return f"you are at {fmt.shown(line.words[0])}"


async def _summon(api: GMApi, line: Line) -> str:
    await api.summon(line.words[0], line.options.get("world", ""))
    return f"summoned {fmt.shown(line.words[0])}"


async def _mute(api: GMApi, line: Line) -> str:
    seconds = duration(line.words[1], permanent_ok=False)
    assert seconds is not None
    await api.mute(line.words[0], seconds, line.rest(2), line.options.get("world", ""))
    return f"muted {fmt.shown(line.words[0])} for {fmt.seconds(seconds)}"


async def _unmute(api: GMApi, line: Line) -> str:
    await api.unmute(line.words[0], line.options.get("world", ""))
    return f"unmuted {fmt.shown(line.words[0])}"


async def _gm(api: GMApi, line: Line) -> str:
    what = line.words[0]
    if what == "list" and len(line.words) == 1:
        return fmt.game_masters(await api.game_masters())
    if what in ("grant", "revoke") and len(line.words) == 2:
        role = "gm" if what == "grant" else "player"
        return fmt.game_master(await api.set_role(line.words[1], role))
    if what == "worlds" and len(line.words) >= 2:
        return fmt.game_master(await api.set_worlds(line.words[1], line.words[2:]))
    raise UsageError(f"usage: {GM_USAGE}")


AUDIT_KEYS = frozenset({"actor", "target", "action", "since", "until", "limit"})


def audit_query(line: Line) -> AuditQuery:
    o = line.options
    limit = int(number(o.get("limit", "50"), "limit"))
    return AuditQuery(o.get("actor", ""), o.get("target", ""), o.get("action", ""),
                      o.get("since", ""), o.get("until", ""), 0, limit)


async def _audit(api: GMApi, line: Line) -> str:
    page = await api.audit_query(audit_query(line))
    more = f"\n(more: audit ... before={page.next_before})" if page.next_before else ""
    return fmt.audit(page.entries) + more


async def _export(api: GMApi, line: Line) -> str:
    path = line.words[0]
    kind = line.options.get("format") or ("csv" if path.lower().endswith(".csv") else "jsonl")
    if kind not in ("csv", "jsonl"):
        raise UsageError("format=csv or format=jsonl")
    query = audit_query(line)
    query.limit = 500
    cap = int(number(line.options.get("max", "100000"), "max"))
    written = await export_audit(api, query, path, kind, max_rows=cap)
    return f"wrote {written} audit entries to {fmt.shown(path, 200)} ({kind})"


TELEPORT_USAGE = ("teleport <character|me> <zone> <x> <y>"
                  " | teleport <character|me> to <character|me>")
GM_USAGE = "gm list | gm grant <account> | gm revoke <account> | gm worlds <account> [world...]"
W = frozenset({"world"})

COMMANDS: dict[str, Command] = {c.name: c for c in [
    Command("who", "who [name prefix] [world=W] [zone=Z]", "who is online", _who, (0, 1),
            frozenset({"world", "zone"}), (CHARACTER,)),
    Command("inspect", "inspect <character> [world=W]", "a character, online or offline",
            _inspect, (1, 1), W, (CHARACTER,)),
    Command("kick", "kick <character|account> <reason...>", "put a player out of the game",
            _kick, (2, -1), W, (CHARACTER,)),
    Command("ban", "ban <account|address> <30m|2h|7d|perm> [reason...]",
            "ban an account or an address range", _ban, (2, -1)),
    Command("unban", "unban <account|address>", "lift the bans on an account or range", _unban,
            (1, 1)),
    Command("bans", "bans", "the bans in force", _bans),
    Command("broadcast", "broadcast <world|*> <text...>", "a notice to a world's players",
            _broadcast, (2, -1)),
    Command("grant", "grant <character> <count> <gold|item> ...", "give gold and items",
            _grant, (3, -1), W, (CHARACTER,)),
    Command("take", "take <character> <count> <gold|item> ...", "take gold and items", _take,
            (3, -1), W, (CHARACTER,)),
    Command("rename", "rename <character> <new name>", "rename a character out of play",
            _rename, (2, 2), W, (CHARACTER,)),
    Command("deleted", "deleted <world> [limit]", "a world's deleted characters", _deleted,
            (1, 2)),
    Command("restore", "restore <world> <character>", "undo a character's deletion", _restore,
            (2, 2)),
    Command("teleport", TELEPORT_USAGE, "move a character", _teleport, (3, 4), W,
            (CHARACTER, "", CHARACTER)),
    Command("goto", "goto <character>", "move yourself to a character", _goto, (1, 1), W,
            (CHARACTER,)),
    Command("summon", "summon <character>", "bring a character to you", _summon, (1, 1), W,
            (CHARACTER,)),
    Command("mute", "mute <character> <15m|2h|1d> [reason...]", "silence a character",
            _mute, (2, -1), W, (CHARACTER,)),
    Command("unmute", "unmute <character>", "let a character chat again", _unmute, (1, 1), W,
            (CHARACTER,)),
    Command("gm", GM_USAGE, "manage game masters (admins)", _gm, (1, -1),
            choices={0: ("list", "grant", "revoke", "worlds")}),
    Command("audit", "audit [actor=A] [target=T] [action=X] [since=T] [until=T] [limit=N]",
            "read the audit log", _audit, keys=AUDIT_KEYS),
    Command("export", "export <file.csv|file.jsonl> [format=csv|jsonl] [max=N] [filters...]",
            "write the audit log to a file", _export, (1, 1),
            AUDIT_KEYS | {"format", "max"}),
]}

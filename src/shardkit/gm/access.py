"""Who may do what on the GM port: each command's role, and the worlds a gm may act in (pure).

``RULES`` is the table of the GM port's commands: the role each needs (an admin may do
everything a gm may, and manage game masters) and which of the per-GM rate limits
(``[gm.rate_limits]``) it spends. A gm may be limited to some worlds; an admin never is. A gm
cannot act on an admin's account or characters (reading them is not acting).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shardkit.wire.rpc import RpcError

RANK: Mapping[str, int] = {"player": 0, "gm": 1, "admin": 2}


@dataclass(frozen=True)
class Rule:
    role: str  # the least role that may run the command
    limit: str = ""  # the rate limit it spends ("ban", "grant", "kick"), if any


RULES: Mapping[str, Rule] = {
    "gm_login": Rule("gm"),
    "who": Rule("gm"),
    "complete_names": Rule("gm"),
    "inspect": Rule("gm"),
    "kick": Rule("gm", "kick"),
    "ban": Rule("gm", "ban"),
    "unban": Rule("gm", "ban"),
    "bans": Rule("gm"),
    "broadcast": Rule("gm"),
    "grant": Rule("gm", "grant"),
    "take": Rule("gm", "grant"),
    "rename": Rule("gm"),
    "deleted_characters": Rule("gm"),
    "restore_character": Rule("gm"),
    "teleport": Rule("gm"),
    "teleport_to": Rule("gm"),
    "goto": Rule("gm"),
    "summon": Rule("gm"),
    "mute": Rule("gm"),
    "unmute": Rule("gm"),
    "audit_log": Rule("gm"),
    "audit_query": Rule("gm"),
    "game_masters": Rule("admin"),
    "set_role": Rule("admin"),
    "set_worlds": Rule("admin"),
}


def refused(message: str) -> RpcError:
    """The answer to a command the caller may not run, saying why."""
    return RpcError("forbidden", message)


@dataclass(frozen=True)
class Caller:
    """A game master as the master has it now: role and worlds (empty: every world)."""

    account_id: int
    name: str
    role: str
    worlds: frozenset[str]
    address: str

    @property
    def actor(self) -> str:
        """How the audit log names this game master."""
        return f"gm:{self.name}"

    @property
    def limited(self) -> bool:
        """Whether this is a gm limited to some worlds."""
        return self.role != "admin" and bool(self.worlds)

    def may_reach(self, world: str) -> bool:
        return not self.limited or world in self.worlds

    def reachable(self, worlds: Iterable[str]) -> list[str]:
        """Those of ``worlds`` this game master may act in."""
        return [world for world in worlds if self.may_reach(world)]

    def _worlds_text(self) -> str:
        return ", ".join(sorted(self.worlds))

    def require_game_master(self) -> None:
        if RANK.get(self.role, 0) < RANK["gm"]:
            raise refused(f"{self.name} is not a game master any more")

    def require(self, command: str) -> Rule:
        """The command's rule, if this caller's role may run it."""
        rule = RULES[command]
        if RANK.get(self.role, 0) < RANK[rule.role]:
            raise refused(f"{command} is for {rule.role}s; {self.name} is a {self.role}")
        return rule

    def require_world(self, world: str, what: str = "") -> None:
        """Refuse acting in ``world`` (on ``what``, there) outside a gm's worlds."""
        if not self.may_reach(world):
            where = f"{what} is in world {world}" if what else f"world {world} is"
            raise refused(f"{where} outside the worlds of {self.name} ({self._worlds_text()})")

    def require_every_world(self, what: str) -> None:
        if self.limited:
            raise refused(f"{what} reaches every world; {self.name} is limited to"
                          f" {self._worlds_text()}")

    def require_not_admin(self, role: str, what: str) -> None:
        """Refuse a gm's action on ``what``, which belongs to an account of ``role``."""
        if role == "admin" and self.role != "admin":
            raise refused(f"{what} belongs to an admin; a gm cannot act on an admin")

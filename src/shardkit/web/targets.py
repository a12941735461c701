"""Which addresses the bridge may dial: the master, and what the cluster handed out in a session.

A browser names the address it wants (``HOST:PORT``, or ``master``); the bridge never takes
its word for it. It dials only

- the master's address from the config, and
- an address a cluster server handed out over a link of the same bridge session: a world's
  address in the master's answer to ``enter_world`` or in its ``queue_ready``, a zone's in a
  WorldServer's answer to ``enter_game`` (``HAND_OUTS``). The bridge reads those answers
  itself, on connections it dialed itself.

A session starts with a link to the master and is named by a random token the bridge gives
the browser. :class:`SessionTable` keeps sessions in bounded memory with an injected clock.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import msgpack

from shardkit.web.logins import LoggedIn

__all__ = [
    "HAND_OUTS",
    "Address",
    "BridgeSession",
    "HandOutWatch",
    "SessionTable",
    "ip_group",
    "parse_target",
]

MASTER = "master"
MAX_HOST_CHARS = 253


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def valid_address(host: object, port: object) -> Address | None:
    """An Address if ``host`` looks like a host name or IP and ``port`` is a TCP port, else None."""
    if not isinstance(host, str) or not isinstance(port, int) or isinstance(port, bool):
        return None
    if not (0 < len(host) <= MAX_HOST_CHARS and 0 < port < 65536):
        return None
    if not all(c.isalnum() or c in ".-_:" for c in host):
        return None
    return Address(host.lower(), port)


def parse_target(text: str) -> Address | str | None:
    """``"master"``, or the Address of ``HOST:PORT`` / ``[IPv6]:PORT``; None if malformed."""
    if text == MASTER:
        return MASTER
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or len(port) > 5:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        return None
    return valid_address(host, int(port))


def ip_group(ip: str) -> str:
    """The key one source address is counted under: IPv4 as is, IPv6 by its /64."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)


# ------------------------------------------------------------------------- hand-outs


@dataclass(frozen=True)
class HandOuts:
    """Where servers of one kind hand out addresses: in the result of a request (a map with
    ``host`` and ``port``), or in a notification's params (by position)."""

    results: dict[str, str] = field(default_factory=dict)  # request method -> kind of address
    notifications: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # -> kind, i, j


HAND_OUTS: dict[str, HandOuts] = {
    "master": HandOuts(results={"enter_world": "world", "gm_ticket": "gm"},
                       notifications={"queue_ready": ("world", 1, 2)}),
    "world": HandOuts(results={"enter_game": "zone"}),
    "zone": HandOuts(),
    "gm": HandOuts(),
}
"""Per kind of server: which answers carry an address the browser may dial next. A new way of
handing out an address (a zone transfer, say) is one line here."""

_REQUEST = b"\x94\x00"  # [0, msgid, method, params]: a fixarray of 4, then 0
_RESPONSE = b"\x94\x01"  # [1, msgid, error, result]
_NOTIFICATION = b"\x93\x02"  # [2, method, params]


class HandOutWatch:
    """On one link: which of the browser's requests will be answered with an address, and the
    addresses in the server's answers. Decodes only the messages that can matter (a request
    for a listed method, a response to one, a listed notification), all already bounded in size.
    """

    MAX_WATCHED = 16  # requests awaiting an answer at once; more are not watched (fail closed)

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.rules = HAND_OUTS.get(kind, HandOuts())
        self._waiting: OrderedDict[int, str] = OrderedDict()  # msgid -> kind of address

    def browser_sent(self, frame: bytes) -> None:
        if not self.rules.results or not frame.startswith(_REQUEST):
            return
        message = _decode(frame)
        if not isinstance(message, list) or len(message) != 4:
            return
        _, msgid, method, _ = message
        kind = self.rules.results.get(method) if isinstance(method, str) else None
        if kind is None or not isinstance(msgid, int):
            return
        self._waiting[msgid] = kind
        while len(self._waiting) > self.MAX_WATCHED:
            self._waiting.popitem(last=False)

    def server_sent(self, frame: bytes) -> tuple[Address, str] | None:
        """The address (and its kind) this server message hands out, if any."""
        if self._waiting and frame.startswith(_RESPONSE):
            message = _decode(frame)
            if not isinstance(message, list) or len(message) != 4:
                return None
            _, msgid, error, result = message
            kind = self._waiting.pop(msgid, None) if isinstance(msgid, int) else None
            if kind is None or error is not None or not isinstance(result, dict):
                return None
            address = valid_address(result.get("host"), result.get("port"))
            return (address, kind) if address else None
        if self.rules.notifications and frame.startswith(_NOTIFICATION):
            message = _decode(frame)
            if not isinstance(message, list) or len(message) != 3:
                return None
            _, method, params = message
            rule = self.rules.notifications.get(method) if isinstance(method, str) else None
            if rule is None or not isinstance(params, list) or len(params) <= max(rule[1:]):
                return None
            address = valid_address(params[rule[1]], params[rule[2]])
            return (address, rule[0]) if address else None
        return None


def _decode(frame: bytes) -> object:
    try:
        return msgpack.unpackb(frame, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException, TypeError):
        return None


# -------------------------------------------------------------------------- sessions


class Link(Protocol):
    """What the session table needs of an open bridge link."""

    def close_link(self, code: int, reason: str) -> None: ...


@dataclass(eq=False)
class BridgeSession:
    """One browser's way through the cluster: its links and the addresses handed out to it."""

    token: str
    ip: str
    last_active: float
    links: set[Link] = field(default_factory=set)
    grants: OrderedDict[Address, str] = field(default_factory=OrderedDict)
    emptied_at: float | None = None  # when its last link closed (None while one is open)
    account: LoggedIn | None = None  # who logged in on its master link (while it is open)
    login_link: Link | None = None  # that link


class SessionTable:
    """Bridge sessions by token, in bounded memory.

    - A session with no message over any of its links for ``idle_timeout_s`` is idle:
      ``sweep`` returns it (for its links to be closed) and forgets it.
    - A session with no link open is forgotten ``linger_s`` after its last link closed.
    - At most ``max_sessions`` are kept: a new one pushes out the least recently active
      session that has no link open; if every one has links, ``open`` returns None.
    - A session keeps at most ``MAX_GRANTS`` addresses (the oldest goes first).
    """

    MAX_GRANTS = 16

    def __init__(self, master: Address, *, idle_timeout_s: float, linger_s: float,
                 max_sessions: int, clock: Callable[[], float] = time.monotonic) -> None:
        if idle_timeout_s <= 0 or linger_s < 0 or max_sessions < 1:
            raise ValueError("idle_timeout_s must be > 0, linger_s >= 0 and max_sessions >= 1")
        self.master = master
        self.idle_timeout_s = idle_timeout_s
        self.linger_s = linger_s
        self.max_sessions = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, BridgeSession] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[BridgeSession]:
        return iter(list(self._sessions.values()))

    def open(self, ip: str) -> BridgeSession | None:
        """A new session for a browser at ``ip`` (None if the table is full of live sessions)."""
        if len(self._sessions) >= self.max_sessions:
            for token, session in self._sessions.items():
                if not session.links:
                    del self._sessions[token]
                    break
            else:
                return None
        token = secrets.token_urlsafe(24)
        session = BridgeSession(token, ip, self._clock())
        self._sessions[token] = session
        return session

    def get(self, token: str) -> BridgeSession | None:
        session = self._sessions.get(token)
        if session is None or self._expired(session, self._clock()):
            return None
        return session

    def kind_of(self, session: BridgeSession, target: Address | str) -> str | None:
        """What ``target`` is to this session ("master", "world", "zone"), or None: not allowed."""
        if target == MASTER or target == self.master:
            return MASTER
        if isinstance(target, Address):
            return session.grants.get(target)
        return None

    def grant(self, session: BridgeSession, address: Address, kind: str) -> None:
        if address == self.master:
            return
        session.grants[address] = kind
        session.grants.move_to_end(address)
        while len(session.grants) > self.MAX_GRANTS:
            session.grants.popitem(last=False)

    def touch(self, session: BridgeSession) -> None:
        """A message went over one of the session's links."""
        session.last_active = self._clock()
        self._sessions.move_to_end(session.token)

    def attach(self, session: BridgeSession, link: Link) -> None:
        session.links.add(link)
        session.emptied_at = None
        self.touch(session)

    def logged_in(self, session: BridgeSession, link: Link, account: LoggedIn) -> None:
        """The master logged ``account`` in over ``link`` (it counts while the link is open)."""
        session.account = account
        session.login_link = link

    def detach(self, session: BridgeSession, link: Link) -> None:
        session.links.discard(link)
        if session.login_link is link:
            session.account = session.login_link = None
        if not session.links:
            session.emptied_at = self._clock()

    def sweep(self) -> list[BridgeSession]:
        """Forget expired sessions; returns those that still had links (to be closed: idle)."""
        now = self._clock()
        idle = []
        for token, session in list(self._sessions.items()):
            if self._expired(session, now):
                del self._sessions[token]
                if session.links:
                    idle.append(session)
        return idle

    def _expired(self, session: BridgeSession, now: float) -> bool:
        if now - session.last_active >= self.idle_timeout_s:
            return True
        return session.emptied_at is not None and now - session.emptied_at >= self.linger_s


class LinkCounter:
    """Open links per source (IPv6 by /64) and in all, each under its cap."""

    def __init__(self, per_ip: int, total: int) -> None:
        if per_ip < 1 or total < 1:
            raise ValueError("link caps must be at least 1")
        self.per_ip = per_ip
        self.total_cap = total
        self.total = 0
        self._by_ip: dict[str, int] = {}

    def take(self, ip: str) -> str | None:
        """Count a new link from ``ip``; returns why not (and counts nothing) if over a cap."""
        key = ip_group(ip)
        if self.total >= self.total_cap:
            return "the bridge is full; try again later"
        if self._by_ip.get(key, 0) >= self.per_ip:
            return "too many connections from your address"
        self._by_ip[key] = self._by_ip.get(key, 0) + 1
        self.total += 1
        return None

    def give_back(self, ip: str) -> None:
        key = ip_group(ip)
        left = self._by_ip.get(key, 0) - 1
        if left > 0:
            self._by_ip[key] = left
        else:
            self._by_ip.pop(key, None)
        self.total = max(0, self.total - 1)

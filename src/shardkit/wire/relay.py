"""Calls that travel through several processes (world -> daemon -> character server), declared once.

A relayed protocol is a table: a ``RelayTable`` subclass whose attributes are ``Relayed``
calls, each with the params its last hop serves, its result and a doc line. Everything else
is made from the table:

- ``entry_relay`` builds the first hop's service (the world port): each call takes the
  caller's own params, which are the table's params without the fields this hop adds
  (``Adds``: the player's account, its active character, a new character's spawn point). The
  hop fills those in from the connection, runs its own checks and forwards the call;
- ``middle_relay`` builds a hop that forwards the params as they came (the daemon adds
  nothing);
- ``Relayed.serve()`` declares the last hop's handler (the character server);
- ``Relayed.send()`` calls a hop after the entry, typed by the call's result; and a client
  reads a ``Relayed`` from its own class to call the entry hop (``RelayClient``).

The built services are ordinary ``@rpc`` classes, so ``methods_of`` and the protocol document
see them like any other. Adding a relayed call is one table entry and one handler at the
last hop; see docs/architecture.md ("How to add a relayed call").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar, overload

import msgspec

from shardkit.wire.peers import Peer
from shardkit.wire.rpc import RpcConnection, rpc

P = TypeVar("P", bound=msgspec.Struct)
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Adds:
    """Fields of a call's params that its entry hop fills in: the caller never sends them."""

    fields: tuple[str, ...]
    what: str  # for people: "the player's active character"


Filler = Callable[[RpcConnection], tuple[Any, ...]]
"""How an entry hop fills one ``Adds`` for a connection: a value per field, in order."""

Route = Callable[[Any], Peer]
"""How a hop picks its next hop for one call from the call's params (the daemon of the params'
world, the WorldServer of their cluster); it raises an RpcError when there is none."""


@dataclass(frozen=True)
class Check(Generic[P]):
    """Something a hop checks itself before it forwards a call (a name rule, a rate limit)."""

    call: Relayed[P, Any]
    run: Callable[[RpcConnection, P], None]


class RelayClient(Protocol):
    """An object that reaches a table's entry hop (a client's world connection)."""

    def relay_peer(self) -> Peer: ...


class RelayedCall(Generic[R]):
    """A relayed call bound to a client: ``await client.guild_roster()``."""

    __slots__ = ("_call", "_client")

    def __init__(self, call: Relayed[Any, R], client: RelayClient) -> None:
        self._call = call
        self._client = client

    async def __call__(self, *params: Any) -> R:
        return await self._call.enter(self._client.relay_peer(), *params)


class Relayed(Generic[P, R]):
    """One relayed call of a ``RelayTable``: its name is the attribute's.

    ``params``: what the last hop serves; ``adds``: which of its fields the entry hop fills in;
    ``roles``: who may call the entry hop; ``entry_name``: the call's name there, when it is
    not the table's (the world port's ``characters`` is ``list_characters`` after it).
    """

    def __init__(
        self,
        params: type[P],
        result: type[R],
        doc: str,
        *,
        adds: Adds | tuple[Adds, ...] = (),
        roles: tuple[str, ...] = ("player",),
        entry_name: str = "",
    ) -> None:
        self.params = params
        self.result = result
        self.doc = doc
        self.adds = adds if isinstance(adds, tuple) else (adds,)
        self.roles = roles
        self.name = ""
        self.entry_name = entry_name
        self.table: type[RelayTable] = RelayTable
        self.entry_params: type[msgspec.Struct] | None = params

    def __set_name__(self, owner: type, name: str) -> None:
        if self.name:
            return  # the same call under another name in a client class: it keeps its own
        if not issubclass(owner, RelayTable):
            raise TypeError(f"{name}: a Relayed call is declared in a RelayTable")
        self.name = name
        self.entry_name = self.entry_name or name
        self.table = owner
        self.entry_params = _without(self.params, self.added_fields, self.entry_name, owner)

    def __repr__(self) -> str:
        return f"<relayed {self.table.__name__}.{self.name}>"

    @property
    def added_fields(self) -> tuple[str, ...]:
        return tuple(name for adds in self.adds for name in adds.fields)

    @overload
    def __get__(self, instance: None, owner: type) -> Relayed[P, R]: ...

    @overload
    def __get__(self, instance: RelayClient, owner: type) -> RelayedCall[R]: ...

    def __get__(self, instance: RelayClient | None, owner: type) -> Relayed[P, R] | RelayedCall[R]:
        if instance is None:
            return self
        return RelayedCall(self, instance)

    def check(self, run: Callable[[RpcConnection, P], None]) -> Check[P]:
        """A hop's own check of this call, for the ``checks`` of the relay built for the hop."""
        return Check(self, run)

    def serve(self, roles: Iterable[str] | None = None) -> Callable[[F], F]:
        """Declare the last hop's handler ``(self, conn, params)`` of this call."""

        def mark(fn: F) -> F:
            fn.__doc__ = fn.__doc__ or self.doc
            rpc(self.name, self.params, roles=roles or self.table.served_to)(fn)
            return fn

        return mark

    async def send(self, peer: Peer, params: P) -> R:
        """Call a hop after the entry (all the params, as the last hop takes them)."""
        return await peer.call_as(self.result, self.name, *msgspec.structs.astuple(params))

    async def enter(self, peer: Peer, *params: Any) -> R:
        """Call the entry hop with the caller's own params."""
        return await peer.call_as(self.result, self.entry_name, *params)


class RelayTable:
    """A relayed protocol: a subclass lists its calls as ``Relayed`` attributes.

    ``served_to``: the roles that call the last hop (the role its handlers are declared for).
    """

    served_to: ClassVar[tuple[str, ...]] = ()


def calls_of(table: type[RelayTable]) -> list[Relayed[Any, Any]]:
    """The table's calls, in the order they are declared."""
    return [value for value in vars(table).values() if isinstance(value, Relayed)]


def _without(params: type[P], names: tuple[str, ...], call: str,
             table: type) -> type[msgspec.Struct] | None:
    """``params`` without the fields ``names`` (what the entry hop's caller sends), or None.

    The struct made is kept on the table (``GuildCalls.GuildCreateParams``), so it has a
    name that pickle and people can find.
    """
    if not names:
        return params
    fields = msgspec.structs.fields(params)
    missing = set(names) - {f.name for f in fields}
    if missing:
        raise TypeError(f"{call}: {params.__name__} has no field {sorted(missing)}")
    kept: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in fields:
        if f.name in names:
            continue
        if f.default is not msgspec.NODEFAULT:
            kept.append((f.name, f.type, f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            kept.append((f.name, f.type, msgspec.field(default_factory=f.default_factory)))
        else:
            kept.append((f.name, f.type))
    if not kept:
        return None
    name = re.sub(r"(?:^|_)(\w)", lambda m: m.group(1).upper(), call) + "Params"
    made = msgspec.defstruct(name, kept, array_like=True, module=table.__module__)
    made.__qualname__ = f"{table.__qualname__}.{name}"
    setattr(table, name, made)
    return made


class Relay:
    """One hop of a relayed protocol; ``entry_relay`` and ``middle_relay`` make its subclasses.

    ``upstream``: the next hop; or ``route``: how to pick it for each call from its params (a
    hop with many next hops, one per world or per cluster). ``fill``: for an entry hop, how it
    fills each ``Adds`` of its calls (every one must have a filler; more are fine, so one
    mapping serves a whole port).
    ``checks``: the hop's own checks, run in order before the call is forwarded (checks of
    another table's calls are left to that table's relay).
    A refusal is an RpcError that the caller gets as the answer; the next hop's answer,
    error or result, is passed back as it came.
    """

    relayed: ClassVar[tuple[Relayed[Any, Any], ...]] = ()
    is_entry: ClassVar[bool] = False

    def __init__(
        self,
        upstream: Peer | None = None,
        *,
        route: Route | None = None,
        fill: Mapping[Adds, Filler] | None = None,
        checks: Iterable[Check[Any]] = (),
    ) -> None:
        if (upstream is None) == (route is None):
            raise TypeError(f"{type(self).__name__} takes an upstream or a route (one of them)")
        self.upstream = upstream
        self._route = route
        self._fill = dict(fill or {})
        needed = {adds for call in self.relayed for adds in call.adds} if self.is_entry else set()
        if not needed <= set(self._fill):
            missing = sorted(a.what for a in needed - set(self._fill))
            raise TypeError(f"{type(self).__name__} needs a filler for {missing}")
        self._checks: dict[str, list[Callable[[RpcConnection, Any], None]]] = {}
        tables = {call.table for call in self.relayed}
        for check in checks:
            if check.call.table not in tables:
                continue  # another table's call: one list of checks serves a whole port
            if check.call not in self.relayed:
                raise TypeError(f"{type(self).__name__} does not relay {check.call!r}")
            self._checks.setdefault(check.call.name, []).append(check.run)

    def forward(self, call: Relayed[Any, Any], conn: RpcConnection,
                params: Any) -> Awaitable[Any]:
        """Fill in what this hop adds, run its checks, and pass the call on (its answer as is).

        Not a coroutine itself: the next hop's call is the awaitable the wire waits for, so a
        hop costs no extra task or frame per call (saves pass here thousands of times a second).
        """
        if self.is_entry and call.adds:
            values = msgspec.structs.asdict(params) if params is not None else {}
            for adds in call.adds:
                values.update(zip(adds.fields, self._fill[adds](conn), strict=True))
            params = call.params(**values)
        for run in self._checks.get(call.name, ()):
            run(conn, params)
        upstream = self.upstream if self._route is None else self._route(params)
        assert upstream is not None
        return upstream.call(call.name, *msgspec.structs.astuple(params))


def _relay_method(call: Relayed[Any, Any], name: str, params: type | None,
                  roles: tuple[str, ...]) -> Callable[..., Any]:
    def relayed(self: Relay, conn: RpcConnection, p: Any = None) -> Awaitable[Any]:
        return self.forward(call, conn, p)

    relayed.__name__ = relayed.__qualname__ = name
    relayed.__doc__ = call.doc
    return rpc(name, params, roles=roles)(relayed)


def _build(table: type[RelayTable], class_name: str, module: str, doc: str, *, entry: bool,
           roles: tuple[str, ...], leave_out: Iterable[Relayed[Any, Any]]) -> type[Relay]:
    left_out = set(map(id, leave_out))
    calls = tuple(c for c in calls_of(table) if id(c) not in left_out)
    namespace: dict[str, Any] = {
        "__module__": module, "__qualname__": class_name, "__doc__": doc,
        "relayed": calls, "is_entry": entry,
    }
    for call in calls:
        name = call.entry_name if entry else call.name
        namespace[name] = _relay_method(call, name, call.entry_params if entry else call.params,
                                        call.roles if entry else roles)
    return type(class_name, (Relay,), namespace)


def entry_relay(table: type[RelayTable], class_name: str, *, module: str, doc: str,
                leave_out: Iterable[Relayed[Any, Any]] = ()) -> type[Relay]:
    """The service of a table's first hop: callers send their own params, the hop adds its own."""
    return _build(table, class_name, module, doc, entry=True, roles=(), leave_out=leave_out)


def middle_relay(table: type[RelayTable], class_name: str, *, module: str, doc: str,
                 roles: tuple[str, ...], leave_out: Iterable[Relayed[Any, Any]] = ()
                 ) -> type[Relay]:
    """The service of a hop between the entry and the last: it forwards the params as they came."""
    return _build(table, class_name, module, doc, entry=False, roles=roles, leave_out=leave_out)


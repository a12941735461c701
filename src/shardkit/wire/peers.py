"""What peer APIs are built on: the Peer a call goes to, typed notifications, typed sessions.

- ``Peer``: anything a call can be sent to (an ``RpcConnection``, a ``ServiceLink``, an
  ``InboundLink``). A component never calls a peer by a method-name string of its own: it
  goes through a small API class (``PeerApi``) published next to that peer's schemas, whose
  methods say what they send and what they return.
- ``Notification``: a notification's params as a struct that names its method, declared
  next to the server that sends it; the receiver declares its handler with the same struct.
- ``SessionSlot``: the typed object a component keeps on each of its connections
  (``RpcConnection.session``), instead of string keys in a dict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import msgspec

from shardkit.wire.rpc import NOTIFY, RpcConnection

T = TypeVar("T")
S = TypeVar("S")


class Peer(Protocol):
    """Where a call goes: one connection, or a link that waits for its connection to be up."""

    async def call(self, method: str, *params: Any) -> Any: ...

    async def call_as(self, result_type: type[T], method: str, *params: Any) -> T: ...

    def notify(self, method: str, *params: Any) -> object: ...


class PeerApi:
    """Base of a peer's published API: typed methods that are the only place its names are spelt."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer


class Ok(msgspec.Struct):
    """The answer of a call that has nothing else to say: ``{"ok": true}``."""

    ok: bool = True


class Notification(msgspec.Struct, array_like=True):
    """Params of a notification, positional on the wire; a subclass sets ``method``."""

    method: ClassVar[str]


_encoder = msgspec.msgpack.Encoder()


def encode_notice(notice: Notification) -> bytes:
    """A notification encoded once, to send the same bytes to many peers (``send_encoded``)."""
    return _encoder.encode((NOTIFY, notice.method, notice))


def notify(peer: RpcConnection | Peer, notice: Notification) -> None:
    """Send one notification (its params are the struct's fields, in order)."""
    peer.notify(notice.method, *msgspec.structs.astuple(notice))


class SessionSlot(Generic[S]):
    """A component's typed session on each connection: ``slot.of(conn)`` makes it on first use.

    The object lives in ``conn.session`` (one slot per connection); a connection belongs to
    one component's port, so one slot type per port is all it ever holds.
    """

    def __init__(self, cls: type[S], factory: Callable[[], S] | None = None) -> None:
        self._cls = cls
        self._factory: Callable[[], S] = factory or cls

    def get(self, conn: RpcConnection) -> S | None:
        """The connection's session, or None if it has none yet."""
        session = conn.session
        return session if isinstance(session, self._cls) else None

    def of(self, conn: RpcConnection) -> S:
        """The connection's session, made now if it has none yet."""
        session = conn.session
        if isinstance(session, self._cls):
            return session
        made = self._factory()
        conn.session = made
        return made

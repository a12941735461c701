"""Signed, short-lived, single-use tickets that admit a client to a world or a zone.

A ticket is the msgpack encoding of ``Ticket`` followed by an HMAC-SHA256 tag made
with the issuer's key. Whoever holds the key can check it; ``TicketRedeemer`` also
remembers each ticket's nonce until it expires, so a ticket works once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable

import msgspec

from shardkit.wire.rpc import RpcError

TAG_BYTES = 32


def world_server(world: str, cluster: int) -> str:
    """The name of a WorldServer, as its link and the world tickets for it give it."""
    return f"{world}/{cluster}"


class Ticket(msgspec.Struct, frozen=True, array_like=True):
    kind: str  # "world" or "zone"
    account_id: int
    account_name: str
    destination: str  # the WorldServer ("<world>/<cluster>"), or the zone's name
    expires_at: float  # unix time
    nonce: bytes
    character: str = ""
    character_id: int = 0


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Ticket)


def issue_ticket(
    key: bytes,
    *,
    kind: str,
    account_id: int,
    account_name: str,
    destination: str,
    ttl_s: float = 30.0,
    character: str = "",
    character_id: int = 0,
    clock: Callable[[], float] = time.time,
) -> bytes:
    ticket = Ticket(
        kind, account_id, account_name, destination, clock() + ttl_s, os.urandom(16),
        character, character_id,
    )
    body = _encoder.encode(ticket)
    return body + hmac.new(key, body, hashlib.sha256).digest()


def read_ticket(key: bytes, token: bytes) -> Ticket:
    """Check the tag and decode; raises RpcError("bad_ticket") if forged or mangled."""
    if len(token) <= TAG_BYTES or len(token) > 1024:
        raise RpcError("bad_ticket", "ticket is malformed")
    body, tag = token[:-TAG_BYTES], token[-TAG_BYTES:]
    if not hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), tag):
        raise RpcError("bad_ticket", "ticket signature is not valid")
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError:
        raise RpcError("bad_ticket", "ticket is malformed") from None


def check_ticket(key: bytes, token: bytes, *, kind: str, destination: str, now: float) -> Ticket:
    """A ticket of ``kind`` for ``destination`` that has not expired (whether it was used is
    for the caller to know); raises RpcError otherwise."""
    ticket = read_ticket(key, token)
    if ticket.kind != kind:
        raise RpcError("bad_ticket", f"this is a {ticket.kind} ticket, not a {kind} one")
    if ticket.destination != destination:
        raise RpcError("bad_ticket", f"ticket is for '{ticket.destination}', not here")
    if ticket.expires_at < now:
        raise RpcError("ticket_expired", "ticket has expired; ask for a new one")
    return ticket


class TicketRedeemer:
    """Accepts each valid ticket once, for one destination, before it expires."""

    def __init__(self, key: bytes, *, kind: str, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._kind = kind
        self._clock = clock
        self._used: dict[bytes, float] = {}

    def redeem(self, token: bytes, destination: str) -> Ticket:
        now = self._clock()
        ticket = check_ticket(self._key, token, kind=self._kind, destination=destination, now=now)
        self._forget_expired(now)
        if ticket.nonce in self._used:
            raise RpcError("ticket_used", "ticket was already used")
        self._used[ticket.nonce] = ticket.expires_at
        return ticket

    def _forget_expired(self, now: float) -> None:
        if len(self._used) > 1024:
            self._used = {n: exp for n, exp in self._used.items() if exp >= now}

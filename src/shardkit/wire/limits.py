"""How much one peer may cost a connection: message size, work in flight, unsent output, time."""

from __future__ import annotations

import msgspec

__all__ = [
    "ANONYMOUS_LIMITS",
    "DIALLED_LIMITS",
    "MESSAGES_PER_TURN",
    "PLAYER_LIMITS",
    "READ_CHUNK",
    "SERVICE_LIMITS",
    "Limits",
]


class Limits(msgspec.Struct, frozen=True):
    """Per-connection bounds that keep one bad peer from hurting the rest.

    ``max_message_bytes`` bounds one incoming message (its MessagePack encoding); a bigger one
    closes the connection. ``max_in_flight`` bounds the incoming requests and notifications
    being handled at once; at the bound the connection reads nothing more until one is done.
    ``max_write_buffer`` bounds our unsent output; a peer that lets more pile up is dropped.
    ``messages_per_turn`` bounds the messages handled before the connection lets the event loop
    run others: its share of each turn of the loop, which every other connection waits for.
    """

    max_message_bytes: int = 256 * 1024
    max_in_flight: int = 32
    max_write_buffer: int = 4 * 1024 * 1024
    auth_timeout_s: float = 10.0
    call_timeout_s: float = 15.0
    messages_per_turn: int = 64


MESSAGES_PER_TURN = Limits().messages_per_turn
"""Messages an authenticated connection handles before it lets the event loop run others."""

ANONYMOUS_LIMITS = Limits(max_message_bytes=4 * 1024, max_in_flight=4, messages_per_turn=16)
"""Bounds of an accepted connection until it authenticates (a login needs a few small calls,
so anyone who has not logged in gets a small share of each turn of the loop)."""

PLAYER_LIMITS = Limits(max_message_bytes=8 * 1024, max_in_flight=32)
"""Bounds of an accepted connection once a player (or game master) has logged in on it."""

SERVICE_LIMITS = Limits(
    max_message_bytes=256 * 1024,
    max_in_flight=8192,
    max_write_buffer=256 * 1024 * 1024,
    call_timeout_s=30.0,
)
"""Bounds for a connection once it has proven a link secret: it carries many players' traffic."""

DIALLED_LIMITS = Limits()
"""Bounds of a connection we opened (``connect``): what we accept from the server we chose."""

READ_CHUNK = 64 * 1024
"""Bytes read from the socket at a time."""

"""Splits a MessagePack byte stream into whole objects, each bounded in size before it is decoded.

Why not simply msgpack's streaming ``Unpacker`` with ``max_buffer_size``: that bound counts only
the bytes not parsed yet. The C unpacker builds an object while its bytes arrive and drops the
bytes it has parsed, so one object made of millions of empty arrays (one byte each) passes any
buffer bound and grows without limit; and each array or map header makes it allocate the
declared element count at once (up to ``max_array_len``), nested as deep as its stack, so a few
kilobytes of headers that never get their elements reserve gigabytes.

:class:`MessageStream` therefore does the work in two passes, both in msgpack's C code:

1. a *framer* (an ``Unpacker`` used only through ``skip()``) walks the bytes and finds where each
   object ends. Skipping builds nothing, so a header claiming millions of elements costs
   nothing, and msgpack's C unpacker resumes a half-walked object where it stopped, so an
   object that arrives in many small reads is walked once, never re-parsed from its start;
2. a *decoder* (an ``Unpacker`` in normal mode) is fed only whole objects whose size has been
   checked.

So an object's size on the wire is bounded while it arrives (``MessageTooLarge`` as soon as
the part received so far is over the limit), and what it decodes into is bounded by that size:
every value takes at least one byte, so an object of n bytes holds at most n values, and no
array is allocated for elements that are not there.

This relies on msgpack's C extension (``msgpack._cmsgpack``, which msgpack's wheels for CPython
carry): its pure-Python fallback restarts a partial object from its first byte on every read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgpack

__all__ = ["MessageStream", "MessageTooLarge", "StreamError"]

#: True when msgpack's unpacker is the resumable C one (see the module docstring).
RESUMABLE = msgpack.Unpacker.__module__ == "msgpack._cmsgpack"

_INITIAL_BUFFER = 4096


class MessageTooLarge(Exception):
    """An object is (or would become) larger than the limit."""


class StreamError(Exception):
    """The bytes are not MessagePack (invalid byte, or nesting deeper than msgpack allows)."""


class MessageStream:
    """The decoded objects of one connection's byte stream; ``feed`` bytes, then iterate.

    ``capacity`` is the largest limit ``feed`` will ever be given plus the most bytes one
    ``feed`` may carry (the unpackers' buffers never grow past it). Iterating yields the whole
    objects fed so far; it may be stopped and resumed (the rest stay undecoded, as bytes,
    until asked for), but every object must be taken before the next ``feed``. Decoding
    errors (invalid UTF-8, a map key that is not a string) raise ``ValueError`` or
    ``TypeError`` from the iteration.
    """

    def __init__(self, capacity: int) -> None:
        self._framer = msgpack.Unpacker(
            max_buffer_size=capacity, read_size=min(_INITIAL_BUFFER, capacity)
        )
        self._decoder = msgpack.Unpacker(
            raw=False,
            strict_map_key=True,
            max_buffer_size=capacity,
            read_size=min(_INITIAL_BUFFER, capacity),
        )
        self._skip = self._framer.skip
        self._tell = self._framer.tell
        self._partial = bytearray()  # bytes of the object still arriving
        self._partial_starts = 0  # stream offset of its first byte
        self._fed = 0  # bytes fed so far

    def feed(self, data: bytes, limit: int) -> None:
        """Take the next bytes of the stream; every object must be at most ``limit`` bytes.

        Raises ``MessageTooLarge`` if a finished object, or the part of the next one received
        so far, is over ``limit``; ``StreamError`` if the bytes are not MessagePack.
        """
        try:
            self._framer.feed(data)
        except msgpack.BufferFull:
            raise MessageTooLarge(f"more than {limit} bytes in one message") from None
        self._fed += len(data)
        fed = self._fed
        start = end = self._partial_starts
        skip, tell = self._skip, self._tell
        try:
            # tell() is where the framer stands; once it stands at the end of what was fed, no
            # more objects can be whole (asking would only raise OutOfData, which is slower)
            while tell() < fed:
                skip()
                size = tell() - end
                if size > limit:
                    raise MessageTooLarge(f"a message of {size} bytes (the limit is {limit})")
                end += size
        except msgpack.OutOfData:
            pass
        except (msgpack.FormatError, msgpack.StackError, ValueError) as exc:
            raise StreamError(type(exc).__name__) from None
        whole = end - start  # bytes of whole objects, at the front of partial + data
        partial = self._partial
        if not partial and whole == len(data):  # the usual case: whole messages only
            self._decoder.feed(data)
        elif not partial:
            self._decoder.feed(data[:whole])
            partial += data[whole:]
        else:
            partial += data
            if whole:
                self._decoder.feed(bytes(partial[:whole]))
                del partial[:whole]
        self._partial_starts = end
        if len(partial) > limit:
            raise MessageTooLarge(f"more than {limit} bytes in one message")

    def __iter__(self) -> Iterator[Any]:
        return self._decoder

    @property
    def pending_bytes(self) -> int:
        """Bytes received of the object still arriving."""
        return len(self._partial)


class FrameSplitter:
    """The whole objects of a byte stream as their own bytes, undecoded: for relaying each message
    exactly as it came (the web bridge puts one in each WebSocket message).

    Bounded like :class:`MessageStream` and by the same framer: ``feed`` raises
    ``MessageTooLarge`` as soon as an object (or the part of it received so far) is over the
    limit, and ``StreamError`` for bytes that are not MessagePack; nothing is decoded.
    ``capacity`` is the largest limit plus the most bytes one ``feed`` may carry.
    """

    def __init__(self, capacity: int) -> None:
        self._framer = msgpack.Unpacker(
            max_buffer_size=capacity, read_size=min(_INITIAL_BUFFER, capacity)
        )
        self._skip = self._framer.skip
        self._tell = self._framer.tell
        self._partial = bytearray()  # bytes of the object still arriving
        self._partial_starts = 0  # stream offset of its first byte
        self._fed = 0

    def feed(self, data: bytes, limit: int) -> list[bytes]:
        """Take the next bytes of the stream; returns the objects they completed, in order."""
        try:
            self._framer.feed(data)
        except msgpack.BufferFull:
            raise MessageTooLarge(f"more than {limit} bytes in one message") from None
        self._fed += len(data)
        ends: list[int] = []
        end = self._partial_starts
        skip, tell = self._skip, self._tell
        try:
            while tell() < self._fed:
                skip()
                size = tell() - end
                if size > limit:
                    raise MessageTooLarge(f"a message of {size} bytes (the limit is {limit})")
                end += size
                ends.append(end)
        except msgpack.OutOfData:
            pass
        except (msgpack.FormatError, msgpack.StackError, ValueError) as exc:
            raise StreamError(type(exc).__name__) from None
        start = self._partial_starts
        if not self._partial and ends and ends[-1] - start == len(data):  # whole messages only
            if len(ends) == 1:
                frames = [bytes(data)]
            else:
                frames = [bytes(data[a - start:b - start]) for a, b in zip([start, *ends], ends,
                                                                           strict=False)]
        else:
            buffer = self._partial
            buffer += data
            frames = [bytes(buffer[a - start:b - start]) for a, b in zip([start, *ends], ends,
                                                                         strict=False)]
            if ends:
                del buffer[:ends[-1] - start]
        self._partial_starts = end
        if len(self._partial) > limit:
            raise MessageTooLarge(f"more than {limit} bytes in one message")
        return frames

    @property
    def pending_bytes(self) -> int:
        """Bytes received of the object still arriving."""
        return len(self._partial)

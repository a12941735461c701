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
2. a *decoder* (an ``Unpacker`` in normal mode, or ``msgpack.unpackb`` for a lone object) is
   given only whole objects whose size has been checked, and decodes each as it is taken, so
   what waits in a stream is bytes, not objects.

So an object's size on the wire is bounded while it arrives (``MessageTooLarge`` as soon as
the part received so far is over the limit), and what it decodes into is bounded by that size:
every value takes at least one byte, so an object of n bytes holds at most n values, and no
array is allocated for elements that are not there.

Memory: an ``Unpacker`` is about 41 KB before its buffer (msgpack embeds a 1,024-level parse
stack in it), which for thousands of mostly idle connections is most of what each costs. So a
stream has no unpacker of its own while it sits between objects: the bytes of one ``feed`` are
walked by a framer shared by every stream of the thread, and only when a feed ends inside an
object does that stream keep the framer (which holds the half-walked state) until the object is
whole; the thread then makes a new shared one. Likewise a decoder is lent to a stream from a
small pool of the thread for the objects of one feed, and goes back once they are all taken.

This relies on msgpack's C extension (``msgpack._cmsgpack``, which msgpack's wheels for CPython
carry): its pure-Python fallback restarts a partial object from its first byte on every read.
"""

from __future__ import annotations

import threading
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


_SPARE_DECODERS = 4
"""Decoders a thread keeps for reuse per stream capacity (more are made while many streams
are in the middle of their objects at once, and dropped after)."""


class _Shared(threading.local):
    """This thread's unpackers that no stream holds, by stream capacity."""

    def __init__(self) -> None:
        self.framers: dict[int, msgpack.Unpacker] = {}
        self.decoders: dict[int, list[msgpack.Unpacker]] = {}


_shared = _Shared()


def _new_framer(capacity: int) -> msgpack.Unpacker:
    return msgpack.Unpacker(max_buffer_size=capacity, read_size=min(_INITIAL_BUFFER, capacity))


def _decode_one(whole: memoryview) -> Iterator[Any]:
    """The one object in ``whole``, decoded when taken."""
    yield msgpack.unpackb(whole, raw=False, strict_map_key=True)


def _decode_many(whole: memoryview, capacity: int) -> Iterator[Any]:
    """The objects in ``whole``, decoded as they are taken by a decoder lent by the thread."""
    spare = _shared.decoders.setdefault(capacity, [])
    decoder = spare.pop() if spare else msgpack.Unpacker(
        raw=False, strict_map_key=True, max_buffer_size=capacity,
        read_size=min(_INITIAL_BUFFER, capacity))
    decoder.feed(whole)
    yield from decoder
    if len(spare) < _SPARE_DECODERS:  # every object was taken and decoded: it is clean
        spare.append(decoder)


def _chained(first: Iterator[Any], then: Iterator[Any]) -> Iterator[Any]:
    yield from first
    yield from then


class _Framing:
    """Finds the whole objects of a byte stream, each bounded in size, with a framer it holds
    only while an object is partly received (the module docstring says why)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._framer: msgpack.Unpacker | None = None  # ours only while an object is partial
        self._partial = bytearray()  # bytes of the object still arriving
        self._partial_starts = 0  # its first byte's offset in our framer's stream
        self._framer_fed = 0  # bytes our framer has been fed (it may stand before their end)

    def _frame(self, data: bytes, limit: int) -> tuple[memoryview, list[int]]:
        """The bytes of the objects ``data`` completes, and their sizes (none: ``[]``).

        Raises ``MessageTooLarge`` if a finished object, or the part of the next one received
        so far, is over ``limit``; ``StreamError`` if the bytes are not MessagePack.
        """
        framer = self._framer
        own = framer is not None
        if framer is None:
            framer = _shared.framers.get(self._capacity)
            if framer is None:
                framer = _shared.framers[self._capacity] = _new_framer(self._capacity)
            start = framer.tell()  # a framer no stream holds stands at the end of its input
            fed = start + len(data)
        else:
            start = self._partial_starts
            fed = self._framer_fed + len(data)
        sizes: list[int] = []
        end = start
        skip, tell = framer.skip, framer.tell
        try:
            framer.feed(data)
            # tell() is where the framer stands; once it stands at the end of what was fed, no
            # more objects can be whole (asking would only raise OutOfData, which is slower)
            while tell() < fed:
                skip()
                size = tell() - end
                if size > limit:
                    raise MessageTooLarge(f"a message of {size} bytes (the limit is {limit})")
                sizes.append(size)
                end += size
        except msgpack.OutOfData:
            pass
        except msgpack.BufferFull:
            self._drop_framer(framer, own)
            raise MessageTooLarge(f"more than {limit} bytes in one message") from None
        except MessageTooLarge:
            self._drop_framer(framer, own)
            raise
        except (msgpack.FormatError, msgpack.StackError, ValueError) as exc:
            self._drop_framer(framer, own)
            raise StreamError(type(exc).__name__) from None
        whole = memoryview(b"")
        if not sizes:  # still inside one object
            self._partial += data
        else:
            joined = memoryview(self._partial + data if self._partial else data)
            whole = joined[:end - start]
            self._partial = bytearray(joined[end - start:])
        if not self._partial:  # between objects: the framer goes back to no one
            self._framer = None
        elif not own:  # the shared framer holds our half-walked object: it is ours now
            del _shared.framers[self._capacity]
            self._framer = framer
        self._partial_starts, self._framer_fed = end, fed
        if len(self._partial) > limit:
            raise MessageTooLarge(f"more than {limit} bytes in one message")
        return whole, sizes

    def _drop_framer(self, framer: msgpack.Unpacker, own: bool) -> None:
        """Forget a framer whose state is broken (the stream ends here)."""
        self._framer = None
        if not own and _shared.framers.get(self._capacity) is framer:
            del _shared.framers[self._capacity]

    @property
    def pending_bytes(self) -> int:
        """Bytes received of the object still arriving."""
        return len(self._partial)


class MessageStream(_Framing):
    """The decoded objects of one connection's byte stream; ``feed`` bytes, then iterate.

    ``capacity`` is the largest limit ``feed`` will ever be given plus the most bytes one
    ``feed`` may carry (a framer's buffer never grows past it). Iterating yields the whole
    objects fed so far, decoding each as it is taken; it may be stopped and resumed (the rest
    stay undecoded, as bytes, until asked for). Decoding errors (invalid UTF-8, a map key that
    is not a string) raise ``ValueError`` or ``TypeError`` from the iteration.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._objects: Iterator[Any] = iter(())  # the whole objects not taken yet (a generator
        # whose frame is None once they all were)

    def feed(self, data: bytes, limit: int) -> None:
        """Take the next bytes of the stream; every object must be at most ``limit`` bytes.

        Raises ``MessageTooLarge`` if a finished object, or the part of the next one received
        so far, is over ``limit``; ``StreamError`` if the bytes are not MessagePack. After
        either, the stream is not to be fed again.
        """
        whole, sizes = self._frame(data, limit)
        if sizes:
            objects = (_decode_one(whole) if len(sizes) == 1
                       else _decode_many(whole, self._capacity))
            if getattr(self._objects, "gi_frame", None) is not None:  # not all taken yet
                objects = _chained(self._objects, objects)
            self._objects = objects

    def __iter__(self) -> Iterator[Any]:
        return self._objects


class FrameSplitter(_Framing):
    """The whole objects of a byte stream as their own bytes, undecoded: for relaying each
    message exactly as it came (the web bridge puts one in each WebSocket message).

    Bounded like :class:`MessageStream` and by the same framing: ``feed`` raises
    ``MessageTooLarge`` as soon as an object (or the part of it received so far) is over the
    limit, and ``StreamError`` for bytes that are not MessagePack; nothing is decoded.
    ``capacity`` is the largest limit plus the most bytes one ``feed`` may carry.
    """

    def feed(self, data: bytes, limit: int) -> list[bytes]:
        """Take the next bytes of the stream; returns the objects they completed, in order."""
        whole, sizes = self._frame(data, limit)
        if len(sizes) == 1:
            return [whole.tobytes()]
        frames, offset = [], 0
        for size in sizes:
            frames.append(whole[offset:offset + size].tobytes())
            offset += size
        return frames

"""Garbage collection for a long-running server: what exists once it has started is never rescanned.

CPython's cyclic collector now and then scans every object it tracks (a "full" collection).
A component has some 120,000 of them once its modules are imported (classes, functions, the
SQLAlchemy, asyncssh and msgspec machinery), and scanning them stops the event loop for tens
of milliseconds, over a hundred on a busy machine: under hostile traffic the master did four
such collections in 13 s, of 50 to 190 ms each, and every login in flight waited for them.

:func:`freeze_long_lived` collects what is garbage at that moment and moves everything still
alive into the collector's permanent generation (``gc.freeze``), which no collection scans.
The runtime does it once the modules are imported and again, once, when the component first
says it is ready. Those objects live as long as the process anyway; the cost is that one of
them that later becomes part of a garbage cycle is not freed (freed by reference counting, it
still is), so this is done only at startup, never while the component serves.

:class:`BetweenTicks` is for a process that runs on a clock (a zone): it moves the
collections that remain out of the ticks, into the time between them.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

__all__ = ["BetweenTicks", "freeze_long_lived", "freeze_when_ready"]

_frozen = 0  # how many times this process has frozen (the runtime's own processes only)


def freeze_long_lived() -> None:
    """Collect the garbage there is now, then leave every living object out of collections."""
    global _frozen
    gc.collect()
    gc.freeze()
    _frozen += 1


def freeze_when_ready() -> None:
    """:func:`freeze_long_lived` once more, the first time the component says it is ready.

    Only in a process whose runtime froze at its start (``run_until_signalled``): a test that
    runs a component's code in its own process keeps its collections as they are.
    """
    if _frozen == 1:
        freeze_long_lived()


class BetweenTicks:
    """Runs the cyclic collector right after a tick instead of whenever allocations say.

    A zone with thousands of players tracks some 100,000 objects (connections, buffers, their
    players): a full collection of them takes 40-70 ms, a middle one up to 20 ms. Left to
    CPython, they land inside whatever tick allocates at that moment, and that tick is late.
    Here, while it is ``started``, automatic collection is off and :meth:`after_tick` does the
    collector's work in the time the tick left before the next one:

    - the youngest generation when its allocation count reached its threshold, the middle one
      when it was collected that many times, as CPython would (``gc.get_threshold()``);
    - a full collection once every ``full_every_s`` seconds of ``clock``, so cyclic garbage
      that survives the younger ones is freed within that time.

    A tick never runs a collection, and a collection never runs twice in one call.
    ``stop`` turns automatic collection back on if ``start`` turned it off.
    """

    def __init__(self, full_every_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_collect: Callable[[int], None] = lambda generation: None) -> None:
        if full_every_s <= 0:
            raise ValueError(f"full_every_s must be > 0, got {full_every_s}")
        self.full_every_s = full_every_s
        self.clock = clock
        self._last_full = clock()
        self._was_enabled = False
        self.on_collect = on_collect  # told the generation of each collection it ran

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._last_full = self.clock()

    def stop(self) -> None:
        if self._was_enabled:
            gc.enable()
            self._was_enabled = False

    def after_tick(self) -> int:
        """Collect what is due now; the generation collected, or -1 for none."""
        now = self.clock()
        if now - self._last_full >= self.full_every_s:
            generation = 2
            self._last_full = now
        else:
            young, middle, _ = gc.get_count()
            young_at, middle_at, _ = gc.get_threshold()
            if middle >= middle_at > 0:
                generation = 1
            elif young >= young_at > 0:
                generation = 0
            else:
                return -1
        gc.collect(generation)
        self.on_collect(generation)
        return generation

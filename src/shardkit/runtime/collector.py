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
"""

from __future__ import annotations

import gc

__all__ = ["freeze_long_lived", "freeze_when_ready"]

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

"""The client following its world: back into the world and the game by itself after it went down.

When the WorldServer connection drops (a planned reboot or stop, announced by ``going_down``,
or a crash, noticed as the dropped link), ``WorldFollower`` asks the master for a fresh ticket
over the session it holds, logs in to the world again and, if a character was in play, enters
the game with it again. It retries with back-off a bounded number of times; when it gives up it
says why in ``state.rejoin_failed`` (the player chooses a character again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from shardkit.client.events import ClientState
from shardkit.runtime.tasks import background
from shardkit.wire.rpc import RpcConnection, RpcError

log = logging.getLogger("shardkit.client")

ATTEMPTS = 14
FIRST_DELAY_S = 0.3
MAX_DELAY_S = 5.0
RETRYABLE = frozenset({"world_down", "unavailable", "zone_down", "closed", "timeout",
                       "world_full", "connection_closed", "rebooting", "already_playing"})
"""Answers that mean "not back yet": anything else (the character is gone, we are not logged
in to the master any more) will not change by waiting, so the follower gives up at once."""


class Rejoiner(Protocol):
    """What the follower drives: a GameClient."""

    state: ClientState
    world: RpcConnection | None
    world_name: str
    character: str
    entered: Any

    def changed(self) -> None: ...

    async def enter_world(self, name: str, port: int | None = None) -> Any: ...

    async def enter_game(self, character: str) -> Any: ...


def _why(state: ClientState) -> tuple[str, str]:
    """Why the world went, in a word and in words (from its ``going_down``, if it said)."""
    notice = state.going_down
    if notice is None:
        return "crash", "the world server went down unexpectedly"
    if notice.reason == "reboot":
        return "reboot", (f"the world server is rebooting; back in about"
                          f" {max(1, round(notice.back_in_s))} s")
    return notice.reason, f"the world server stopped ({notice.reason})"


class WorldFollower:
    """Watches a client's world connection and brings the client back in when it drops."""

    def __init__(self, client: Rejoiner, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.client = client
        self.sleep = sleep
        self.enabled = True  # off while the client closes, or if the player turned it off
        self.task: asyncio.Future[Any] | None = None

    def watch(self, conn: RpcConnection) -> None:
        """Follow the world behind ``conn`` (the client's new world connection)."""
        conn.on_close(self._lost)

    def _lost(self, conn: RpcConnection) -> None:
        client = self.client
        if not self.enabled or client.world is not conn or not client.world_name:
            return  # closed by the client itself, or replaced by a newer connection
        if client.state.kicked:
            return  # put out on purpose: coming back by itself would undo it
        if self.task is not None and not self.task.done():
            return
        self.task = background(self.rejoin())

    async def rejoin(self) -> bool:
        """Get back into the world (and the game, if a character was in play); True if back."""
        client, state = self.client, self.client.state
        word, words = _why(state)
        character = client.character if client.entered is not None else ""
        state.world_lost, state.rejoin_failed, state.going_down = word, None, None
        state.notices.append(f"{words}; getting back in by itself ...")
        client.changed()
        log.info("world %s lost (%s); rejoining", client.world_name, word)

        async def back_in() -> None:
            await client.enter_world(client.world_name)
            if character:
                await client.enter_game(character)

        last = await self._keep_trying(back_in)
        if last is None:
            state.world_lost = None
            state.rejoined += 1
            back = f" as {character}" if character else ""
            state.notices.append(f"back in {client.world_name}{back}")
            client.changed()
            return True
        if not self.enabled:
            return False
        state.world_lost = None
        state.rejoin_failed = (f"could not get back into {client.world_name} ({last});"
                               " choose your character again")
        state.notices.append(state.rejoin_failed)
        client.changed()
        return False

    async def follow_portal(self, zone: str) -> bool:
        """Enter the game again after a portal moved our character to ``zone``; while the way
        there is not open yet (its WorldServer restarting), try again with the same back-off.
        True once in; the player is told when it has to wait and when it gives up."""
        client, state = self.client, self.client.state
        told = False

        def waiting(why: str) -> None:
            nonlocal told
            if not told:  # once: the player needs to know it waits, not every try
                told = True
                state.notices.append(f"the way to {zone} is not open yet ({why}); trying again")
                client.changed()

        last = await self._keep_trying(lambda: client.enter_game(client.character),
                                       at_once=True, on_retry=waiting)
        if last is None:
            return True
        if self.enabled:
            state.notices.append(f"could not follow the portal to {zone}: {last}")
            client.changed()
        return False

    async def _keep_trying(self, attempt: Callable[[], Awaitable[Any]], *, at_once: bool = False,
                           on_retry: Callable[[str], None] = lambda why: None) -> str | None:
        """Run ``attempt`` until it works (None) or fails for good, up to ``ATTEMPTS`` times
        with growing pauses (the first one skipped if ``at_once``); else the last failure.
        Stops early when the follower is turned off (callers check ``enabled``)."""
        delay, last = FIRST_DELAY_S, "gave up"
        for number in range(ATTEMPTS):
            if number or not at_once:
                await self.sleep(delay)
                delay = min(delay * 2, MAX_DELAY_S)
            if not self.enabled:
                return "stopped"
            try:
                await attempt()
            except RpcError as exc:
                last = str(exc)
                if exc.code not in RETRYABLE:
                    return last
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                last = str(exc) or type(exc).__name__
            else:
                return None
            on_retry(last)
        return last

"""The master port's published API: what services (daemons, character server) and players call."""

from __future__ import annotations

from typing import Any

import msgspec

from shardkit.gm.schemas import GMEntry
from shardkit.master.schemas import (
    AccountInfo,
    AnnounceWorld,
    DaemonAddress,
    Heartbeat,
    LoginDone,
    LoginStarted,
    QueuePlace,
    RegisterParams,
    RegistrationRules,
    WorldEntry,
    WorldInfo,
)
from shardkit.wire.peers import PeerApi
from shardkit.wire.scram import Verifier


class MasterServiceApi(PeerApi):
    """What a daemon and the character server call on the master, over their links."""

    async def announce_world(self, world: AnnounceWorld) -> None:
        await self.peer.call("announce_world", *msgspec.structs.astuple(world))

    def heartbeat(self, beat: Heartbeat) -> None:
        """A daemon's population report (a notification)."""
        self.peer.notify("heartbeat", *msgspec.structs.astuple(beat))

    async def daemons(self) -> list[DaemonAddress]:
        """Where each announced world's daemon takes the character server."""
        return await self.peer.call_as(list[DaemonAddress], "daemons")


class MasterPlayerApi(PeerApi):
    """What a player's client calls on the master: accounts, login, worlds, GM tickets."""

    async def registration_rules(self) -> RegistrationRules:
        return await self.peer.call_as(RegistrationRules, "registration_rules")

    async def register(self, params: RegisterParams) -> AccountInfo:
        return await self.peer.call_as(AccountInfo, "register",
                                       *msgspec.structs.astuple(params))

    async def login_start(self, username: str, client_first: str) -> LoginStarted:
        return await self.peer.call_as(LoginStarted, "login_start", username, client_first)

    async def login_finish(self, client_final: str) -> LoginDone:
        return await self.peer.call_as(LoginDone, "login_finish", client_final)

    async def change_password(self, verifier: Verifier) -> None:
        await self.peer.call("change_password", *msgspec.structs.astuple(verifier))

    async def worlds(self) -> list[WorldInfo]:
        return await self.peer.call_as(list[WorldInfo], "worlds")

    async def enter_world(self, world: str, cluster: int | None = None) -> WorldEntry | QueuePlace:
        """A ticket for the world (for WorldServer ``cluster``, by default its entry point), or
        (when it is full) a place in its queue."""
        params = (world,) if cluster is None else (world, cluster)
        answer: Any = await self.peer.call("enter_world", *params)
        if isinstance(answer, dict) and answer.get("queued"):
            return msgspec.convert(answer, QueuePlace)
        return msgspec.convert(answer, WorldEntry)

    def leave_queue(self, world: str) -> None:
        self.peer.notify("leave_queue", world)

    async def gm_ticket(self) -> GMEntry:
        return await self.peer.call_as(GMEntry, "gm_ticket")

"""The daemon's world chat and whispers: one chat budget per character, delivery to WorldServers."""

from __future__ import annotations

import asyncio

from shardkit.daemon.chat_calls import (
    ChatCalls,
    WhisperCall,
    WhisperDelivery,
    WorldChatDelivery,
    WorldSay,
)
from shardkit.daemon.clusters import ClusterRegistry
from shardkit.wire.peers import Ok, encode_notice
from shardkit.wire.rpc import RpcConnection, RpcError
from shardkit.wire.throttle import KeyedThrottle, throttled
from shardkit.world.api import WorldDaemonApi

WHISPER_WAIT_S = 5.0
"""How long a whisper waits for the WorldServers' answers before it counts as undelivered."""


class WorldChat:
    """World chat and whispers arrive here from every WorldServer of the world.

    Each character has one chat budget here (``chat_per_s`` after a burst of ``chat_burst``),
    where all of its world chat and whispers pass whichever WorldServer it plays on. A world
    line goes to every registered WorldServer; a whisper to each of them at once, and the one
    that holds the character hands it over (``offline`` when none does).
    """

    def __init__(self, clusters: ClusterRegistry, *, chat_per_s: float, chat_burst: int) -> None:
        self.clusters = clusters
        self.chat = KeyedThrottle(chat_per_s, chat_burst)

    def _take(self, character_id: int) -> None:
        bucket = self.chat.bucket(character_id)
        if not bucket.take():
            raise throttled(bucket, "you are chatting too fast")

    @ChatCalls.chat_world.serve()
    def chat_world(self, conn: RpcConnection, p: WorldSay) -> Ok:
        """Pass a world chat line to every WorldServer of this world."""
        self._take(p.character_id)
        data = encode_notice(WorldChatDelivery(p.speaker, p.text))
        for world_server in self.clusters.connections():
            world_server.send_encoded(data)
        return Ok()

    @ChatCalls.chat_whisper.serve()
    async def chat_whisper(self, conn: RpcConnection, p: WhisperCall) -> Ok:
        """Find the WorldServer where ``to`` plays and have it deliver the whisper."""
        self._take(p.character_id)
        delivery = WhisperDelivery(p.to, p.speaker, p.text)
        servers = self.clusters.connections()
        answers = await asyncio.gather(
            *(asyncio.wait_for(WorldDaemonApi(s).deliver_whisper(delivery), WHISPER_WAIT_S)
              for s in servers),
            return_exceptions=True)
        if any(not isinstance(a, BaseException) and a.delivered for a in answers):
            return Ok()
        raise RpcError("offline", "nobody of that name is playing in this world now")

"""The daemon's guild calls: forwarded to the character server as is; guild chat is its own."""

from __future__ import annotations

from shardkit.characters.api import CharactersApi
from shardkit.characters.calls import GuildCalls
from shardkit.characters.schemas import GuildText
from shardkit.daemon.clusters import ClusterRegistry
from shardkit.daemon.notifications import GuildChatDelivery
from shardkit.wire.peers import encode_notice
from shardkit.wire.relay import middle_relay
from shardkit.wire.rpc import RpcConnection
from shardkit.wire.throttle import KeyedThrottle, throttled

GuildForwarding = middle_relay(
    GuildCalls, "GuildForwarding", module=__name__, roles=("world",),
    leave_out=(GuildCalls.guild_say,),
    doc="Guild calls of port 7000: forwarded to the character server, which knows our world.",
)


class GuildChat:
    """Guild chat: one budget per character, and delivery to every WorldServer of the world."""

    def __init__(self, characters: CharactersApi, clusters: ClusterRegistry, *,
                 chat_per_s: float, chat_burst: int) -> None:
        self.characters = characters
        self.clusters = clusters
        # Guild chat reaches every WorldServer of the world: one budget per character, here,
        # where every WorldServer's guild_say passes (the same budget as zone chat).
        self.chat = KeyedThrottle(chat_per_s, chat_burst)

    @GuildCalls.guild_say.serve(roles=("world",))
    async def guild_say(self, conn: RpcConnection, p: GuildText) -> None:
        """Send a guild message to the members on every WorldServer of this world."""
        bucket = self.chat.bucket(p.character_id)
        if not bucket.take():
            raise throttled(bucket, "you are chatting too fast")
        targets = await self.characters.guild_chat_targets(p.character_id, p.text)
        if not targets.text or not targets.member_ids:
            return
        data = encode_notice(GuildChatDelivery(
            targets.guild, targets.speaker, targets.text, targets.member_ids))
        for world_server in self.clusters.connections():
            world_server.send_encoded(data)

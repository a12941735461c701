"""World-wide chat, declared once: zone -> WorldServer -> daemon, and the daemon's deliveries.

A player sends world chat and whispers to its zone (which keeps mutes and cleans the text);
the zone calls its WorldServer, which relays the call to the daemon as it came; the daemon
(``daemon/chat.py``) counts each character's chat and passes a world line to every
WorldServer of the world (``world_chat``), a whisper to the one that holds the character
(``deliver_whisper``). The WorldServers hand them to their players (``world/chat.py``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from shardkit.wire.peers import Notification, Ok
from shardkit.wire.relay import Relayed, RelayTable

Name = Annotated[str, msgspec.Meta(max_length=64)]
Text = Annotated[str, msgspec.Meta(max_length=1024)]


class WorldSay(msgspec.Struct, array_like=True):
    character_id: int  # the speaker (its chat budget at the daemon)
    speaker: Name
    text: Text


class WhisperCall(msgspec.Struct, array_like=True):
    character_id: int
    speaker: Name
    to: Name  # a character's name, any case
    text: Text


class ChatCalls(RelayTable):
    """Chat beyond one zone: a zone calls its WorldServer, which relays to the daemon."""

    served_to = ("world",)

    chat_world = Relayed(
        WorldSay, Ok, "Say something every player of the world hears, on every WorldServer.",
        roles=("zone",))
    chat_whisper = Relayed(
        WhisperCall, Ok, "Say something to one character, wherever in the world it plays;"
        " `offline` if it is nowhere.", roles=("zone",))


class WorldChatDelivery(Notification):
    """Daemon -> every WorldServer: a world chat line for all its players."""

    method = "world_chat"

    speaker: str
    text: str


class WhisperDelivery(msgspec.Struct, array_like=True):
    """Daemon -> a WorldServer: give this whisper to ``to`` if it plays there."""

    to: Name
    speaker: Name
    text: Text


class Delivered(msgspec.Struct):
    delivered: bool
    name: str = ""  # the character's name as stored (when delivered)

"""The daemon's character calls for its WorldServers: forwarded to the character server as is."""

from __future__ import annotations

from shardkit.characters.calls import CharacterCalls
from shardkit.wire.relay import middle_relay

CharacterForwarding = middle_relay(
    CharacterCalls, "CharacterForwarding", module=__name__, roles=("world",),
    doc="Character calls of port 7000: the character server answers them for our world.",
)

"""Zone transfers between WorldServers of one world, declared once: who calls what, through whom.

A portal to a zone of another WorldServer of the world (``docs/architecture.md``, "Zone
transfers between WorldServers"):

- ``TransferCalls.transfer_character``: the source zone -> its WorldServer (relayed as it
  came, ``world/transfer.py``) -> the daemon (``daemon/transfer.py``), which saves the
  character at the portal's target and moves its claim to the target WorldServer in one step
  (``SaveTransferCalls.save_transfer`` at the character server), then has the target admit it;
- ``AdmitCalls.admit_transfer``: the daemon, or a WorldServer whose player's character is in a
  zone of another WorldServer (it relays through the daemon, which routes by ``cluster``) ->
  the target WorldServer, which issues a single-use transfer ticket bound to itself;
- the player redeems that ticket on the target's world port (``transfer_login``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from shardkit.characters.schemas import CharacterState, SaveResult
from shardkit.wire.relay import Relayed, RelayTable

Name = Annotated[str, msgspec.Meta(max_length=64)]


class TransferCharacter(msgspec.Struct, array_like=True):
    """A character leaving its zone through a portal, as it is to be saved at the target."""

    state: CharacterState  # zone, x, y: the portal's target; version: the zone's last save
    cluster: int  # the WorldServer that runs the target zone
    account_name: Name


class SaveTransfer(msgspec.Struct, array_like=True):
    state: CharacterState
    cluster: int  # where the character's claim moves


class AdmitTransfer(msgspec.Struct, array_like=True):
    cluster: int  # the WorldServer asked to admit the character
    account_id: int
    account_name: Name
    character: Name
    character_id: int
    zone: Name


class TransferTicket(msgspec.Struct):
    """Where to go: the target WorldServer's world port, and a ticket only it accepts."""

    host: str
    port: int
    ticket: bytes
    cluster: int = 0


class TransferCalls(RelayTable):
    """A zone calls its WorldServer, which relays to the daemon as it came."""

    served_to = ("world",)

    transfer_character = Relayed(
        TransferCharacter, TransferTicket,
        "Save a character at a portal's target on another WorldServer (its claim moves there in"
        " the same step) and have that WorldServer admit it; answered with its ticket.",
        roles=("zone",))


class AdmitCalls(RelayTable):
    """The daemon (or a WorldServer, relayed by the daemon to ``cluster``) asks a WorldServer."""

    served_to = ("daemon",)

    admit_transfer = Relayed(
        AdmitTransfer, TransferTicket,
        "Admit a character saved in one of your zones: a single-use transfer ticket for your"
        " world port.", roles=("world",))


class SaveTransferCalls(RelayTable):
    """The daemon asks the character server: one versioned save that also moves the claim."""

    served_to = ("daemon",)

    save_transfer = Relayed(
        SaveTransfer, SaveResult,
        "Save a character crossing to another WorldServer based on its version (stale saves"
        " refused) and, with the commit, move the account's claim to that WorldServer.")

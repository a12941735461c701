"""What the master keeps about each connection to its port: a login under way, failed attempts."""

from __future__ import annotations

from dataclasses import dataclass

from shardkit.store.accounts import AccountRecord
from shardkit.wire.peers import SessionSlot
from shardkit.wire.scram import ScramServerSession


@dataclass
class PendingLogin:
    """SCRAM step 1 is done on this connection; step 2 (``login_finish``) finishes it."""

    scram: ScramServerSession
    record: AccountRecord | None  # None: an unknown name, answered with a decoy verifier
    username: str


@dataclass
class MasterSession:
    """One connection to the master port (``conn.session``)."""

    login: PendingLogin | None = None
    failed_logins: int = 0
    announced: bool = False  # a daemon's link that has announced its world


sessions: SessionSlot[MasterSession] = SessionSlot(MasterSession)

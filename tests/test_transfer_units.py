"""Zone transfers in one process: the relay tables' hops, the claim's move, the daemon's order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shardkit.characters.claims import Claims
from shardkit.characters.schemas import CharacterState, SaveResult
from shardkit.characters.transfer import TransferSaves
from shardkit.daemon.clusters import ClusterRegistry
from shardkit.daemon.schemas import RegisterCluster
from shardkit.daemon.transfer import AdmitForwarding, Transfers
from shardkit.daemon.transfer_calls import (
    AdmitCalls,
    SaveTransferCalls,
    TransferCalls,
    TransferCharacter,
    TransferTicket,
)
from shardkit.store.character_saves import SaveResult as StoreSaveResult
from shardkit.wire.relay import calls_of
from shardkit.wire.rpc import Identity, RpcConnection, RpcError, methods_of
from shardkit.world.transfer import TransferAdmission, TransferLogin, TransferRelay

WORLD = "Atlantis"


def served(*classes: type) -> dict[str, frozenset[str]]:
    return {spec.name: frozenset(spec.roles or ()) for cls in classes
            for spec in methods_of(cls)}


def test_every_hop_serves_exactly_its_tables_calls() -> None:
    assert {c.name for c in calls_of(TransferCalls)} == {"transfer_character"}
    assert served(TransferRelay) == {"transfer_character": frozenset({"zone"})}
    assert served(Transfers) == {"transfer_character": frozenset({"world"})}
    assert {c.name for c in calls_of(AdmitCalls)} == {"admit_transfer"}
    assert served(AdmitForwarding) == {"admit_transfer": frozenset({"world"})}
    assert served(TransferAdmission) == {"admit_transfer": frozenset({"daemon"})}
    assert {c.name for c in calls_of(SaveTransferCalls)} == {"save_transfer"}
    assert served(TransferSaves) == {"save_transfer": frozenset({"daemon"})}
    [login] = methods_of(TransferLogin)
    assert login.name == "transfer_login" and login.roles is None  # public


def test_a_transfer_moves_the_claim_until_the_character_is_loaded_or_leaves() -> None:
    claims = Claims()
    claims.claim(7, WORLD, "Ferry")
    claims.move(7, WORLD, "Ferry", 1)
    assert claims.holds(7, WORLD, "ferry") and claims.moving_to(7) == 1
    claims.claim(7, WORLD, "Ferry")  # the target loaded it
    assert claims.moving_to(7) is None
    claims.move(7, WORLD, "Ferry", 0)
    claims.release(7, WORLD)
    assert claims.world_of(7) is None and claims.moving_to(7) is None
    claims.move(8, WORLD, "Other", 1)
    claims.release_world(WORLD)
    assert claims.moving_to(8) is None and len(claims) == 0


class FakeConn:
    """A registered WorldServer's link, or the character server's: answers from a function."""

    def __init__(self, answer: Callable[[str, tuple[Any, ...]], Any]) -> None:
        self.answer = answer
        self.calls: list[str] = []

    def on_close(self, callback: Callable[[Any], None]) -> None:
        pass

    async def call(self, method: str, *params: Any) -> Any:
        return await self.call_as(object, method, *params)

    async def call_as(self, result_type: type[Any], method: str, *params: Any) -> Any:
        self.calls.append(method)
        return self.answer(method, params)

    def notify(self, method: str, *params: Any) -> bool:
        return True


TICKET = TransferTicket("127.0.0.1", 2007, b"t" * 40, 1)


def daemon_side(save_ok: bool = True, admits: bool = True, target_up: bool = True
                ) -> tuple[Transfers, FakeConn, FakeConn, FakeConn]:
    def save(method: str, params: tuple[Any, ...]) -> SaveResult:
        return SaveResult(5, save_ok, 4 if save_ok else 9, None if save_ok else "stale")

    def admit(method: str, params: tuple[Any, ...]) -> TransferTicket:
        if not admits:
            raise RpcError("closed", "the connection closed")
        return TICKET

    characters, source, target = FakeConn(save), FakeConn(admit), FakeConn(admit)
    clusters = ClusterRegistry(WORLD)
    clusters.register(source, RegisterCluster(0, "127.0.0.1", 2006))  # type: ignore[arg-type]
    if target_up:
        clusters.register(target, RegisterCluster(1, "127.0.0.1", 2007))  # type: ignore[arg-type]
    return Transfers(characters, clusters), characters, source, target


def crossing(version: int = 3) -> TransferCharacter:
    state = CharacterState(5, 7, WORLD, "Ferry", "harbor", 400.0, 60.0, gold=1234,
                           inventory=[["crab_shell", 3]], version=version)
    return TransferCharacter(state, 1, "ferryman")


async def test_the_daemon_saves_first_then_asks_the_target() -> None:
    transfers, characters, source, target = daemon_side()
    ticket = await transfers.transfer_character(source, crossing())  # type: ignore[arg-type]
    assert ticket == TICKET
    assert characters.calls == ["save_transfer"] and target.calls == ["admit_transfer"]


@pytest.mark.parametrize("case, code, saved, asked", [
    ("target down", "no_such_cluster", False, False),
    ("stale", "stale", True, False),
    ("no admission", "transfer_pending", True, True),
])
async def test_the_daemon_refuses_in_order(case: str, code: str, saved: bool,
                                           asked: bool) -> None:
    transfers, characters, source, target = daemon_side(
        save_ok=case != "stale", admits=case != "no admission", target_up=case != "target down")
    with pytest.raises(RpcError) as caught:
        await transfers.transfer_character(source, crossing())  # type: ignore[arg-type]
    assert caught.value.code == code
    assert characters.calls == (["save_transfer"] if saved else [])
    assert target.calls == (["admit_transfer"] if asked else [])


async def test_only_a_registered_world_server_transfers_and_not_to_itself() -> None:
    transfers, characters, _source, target = daemon_side()
    stranger = FakeConn(lambda m, p: None)
    for conn, params in ((stranger, crossing()), (target, crossing())):
        with pytest.raises(RpcError) as caught:
            await transfers.transfer_character(conn, params)  # type: ignore[arg-type]
        assert caught.value.code == "bad_params"
    assert characters.calls == []


class Batcher:
    def __init__(self, ok: bool) -> None:
        self.ok = ok
        self.saved: list[CharacterState] = []

    async def save(self, state: CharacterState) -> StoreSaveResult:
        self.saved.append(state)
        return StoreSaveResult(id=state.id, ok=self.ok, version=state.version + 1,
                               reason=None if self.ok else "stale")


def daemon_link() -> RpcConnection:
    conn = FakeConn(lambda m, p: None)
    conn.identity = Identity("daemon", WORLD)  # type: ignore[attr-defined]
    return conn  # type: ignore[return-value]


async def test_the_character_server_moves_the_claim_only_with_a_committed_save() -> None:
    from shardkit.daemon.transfer_calls import SaveTransfer

    claims = Claims()
    claims.claim(7, WORLD, "Ferry")
    refused = TransferSaves(Batcher(ok=False), claims)
    result = await refused.save_transfer(daemon_link(), SaveTransfer(crossing().state, 1))
    assert not result.ok and claims.moving_to(7) is None
    kept = Batcher(ok=True)
    result = await TransferSaves(kept, claims).save_transfer(
        daemon_link(), SaveTransfer(crossing().state, 1))
    assert result.ok and result.version == 4 and claims.moving_to(7) == 1
    assert kept.saved[0].zone == "harbor" and kept.saved[0].gold == 1234
    other_world = CharacterState(5, 7, "Lemuria", "Ferry", "harbor", 1.0, 1.0)
    with pytest.raises(RpcError) as caught:
        await TransferSaves(kept, claims).save_transfer(daemon_link(),
                                                        SaveTransfer(other_world, 1))
    assert caught.value.code == "forbidden"


def test_an_arrival_is_taken_once_for_its_character_before_it_expires() -> None:
    from shardkit.world.transfer import Arrivals

    now = [100.0]
    arrivals = Arrivals(limit=2, clock=lambda: now[0])
    arrivals.expect(7, 5, "harbor", 130.0)
    assert arrivals.take(7, 6) is None  # another character: the entry is spent anyway
    arrivals.expect(7, 5, "harbor", 130.0)
    assert arrivals.take(7, 5) == "harbor" and arrivals.take(7, 5) is None
    arrivals.expect(8, 1, "harbor", 110.0)
    now[0] = 111.0
    assert arrivals.take(8, 1) is None  # expired
    for account in (1, 2, 3):
        arrivals.expect(account, account, "harbor", 200.0)
    assert arrivals.take(1, 1) is None and arrivals.take(3, 3) == "harbor"  # at most 2 wait

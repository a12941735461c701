"""The character server's character calls for each world's daemon: list, create, load, save..."""

from __future__ import annotations

from typing import Protocol

from shardkit.characters.access import link_world
from shardkit.characters.audit import AuditTrail
from shardkit.characters.calls import CharacterCalls
from shardkit.characters.claims import Claims
from shardkit.characters.names import check_character_name
from shardkit.characters.schemas import (
    AccountRef,
    CharacterRef,
    CharacterState,
    CharacterSummary,
    CreateCharacter,
    RenameCharacter,
    SaveCharacter,
    SaveResult,
)
from shardkit.store import characters as store
from shardkit.store.accounts import NameTaken
from shardkit.store.guilds import GuildStore
from shardkit.wire.peers import Ok
from shardkit.wire.rpc import RpcConnection, RpcError


class Saves(Protocol):
    """Where saves go: a SaveBatcher (answered only after the commit), perhaps metered."""

    async def save(self, state: CharacterState) -> store.SaveResult: ...


def _summary(state: store.CharacterState) -> CharacterSummary:
    return CharacterSummary(state.id, state.name, state.zone, state.level)


class CharacterService:
    """What daemons may ask of the character server, each about its own world (its link's)."""

    def __init__(self, characters: store.CharacterStore, batcher: Saves,
                 guilds: GuildStore, claims: Claims, audit: AuditTrail, *,
                 max_per_account: int) -> None:
        self.characters = characters
        self.batcher = batcher
        self.guilds = guilds
        self.claims = claims
        self.audit = audit
        self.max_per_account = max_per_account

    @CharacterCalls.list_characters.serve()
    async def list_characters(self, conn: RpcConnection, p: AccountRef) -> list[CharacterSummary]:
        rows = await self.characters.list(p.account_id, link_world(conn))
        return [_summary(c) for c in rows]

    @CharacterCalls.create_character.serve()
    async def create_character(self, conn: RpcConnection, p: CreateCharacter) -> CharacterSummary:
        world = link_world(conn)
        check_character_name(p.name)
        limit = self.max_per_account
        try:
            state = await self.characters.create(p.account_id, world, p.name, p.zone, p.x, p.y,
                                                 limit=limit)
        except NameTaken:
            raise RpcError("name_taken", f"'{p.name}' is taken in {world}") from None
        except store.CharacterLimit:
            raise RpcError("too_many_characters",
                           f"an account may have at most {limit} characters in {world};"
                           " delete one first") from None
        self.audit.record("create", f"{world}/{p.name}", {"account_id": p.account_id})
        return _summary(state)

    def _not_in_play(self, account_id: int, world: str, name: str) -> None:
        if self.claims.holds(account_id, world, name):
            raise RpcError("in_play", f"'{name}' is in play; log out first")

    @CharacterCalls.delete_character.serve()
    async def delete_character(self, conn: RpcConnection, p: CharacterRef) -> Ok:
        world = link_world(conn)
        async with self.claims.turns.turn(p.account_id):  # not while a load puts it in play
            self._not_in_play(p.account_id, world, p.name)
            state = await self.characters.load(p.account_id, world, p.name)
            if state is None or not await self.characters.delete(p.account_id, world, p.name):
                raise RpcError("no_such_character", f"no character '{p.name}'")
        guild = await self.guilds.drop_character(state.id)
        detail: dict[str, object] = {"account_id": p.account_id}
        if guild is not None:
            detail["left_guild"] = guild
        self.audit.record("delete", f"{world}/{state.name}", detail)
        return Ok()

    @CharacterCalls.rename_character.serve()
    async def rename_character(self, conn: RpcConnection, p: RenameCharacter) -> CharacterSummary:
        world = link_world(conn)
        check_character_name(p.new_name)
        async with self.claims.turns.turn(p.account_id):  # not while a load puts it in play
            self._not_in_play(p.account_id, world, p.name)
            try:
                state = await self.characters.rename(p.account_id, world, p.name, p.new_name)
            except NameTaken:
                raise RpcError("name_taken", f"'{p.new_name}' is taken in {world}") from None
        if state is None:
            raise RpcError("no_such_character", f"no character '{p.name}'")
        self.audit.record("rename", f"{world}/{state.name}",
                          {"account_id": p.account_id, "old_name": p.name})
        return _summary(state)

    @CharacterCalls.load_character.serve()
    async def load_character(self, conn: RpcConnection, p: CharacterRef) -> CharacterState:
        world = link_world(conn)
        async with self.claims.turns.turn(p.account_id):  # two worlds loading at once: one wins
            playing_in = self.claims.world_of(p.account_id)
            if playing_in is not None and playing_in != world:
                raise RpcError("already_playing", f"this account is playing in '{playing_in}'")
            state = await self.characters.load(p.account_id, world, p.name)
            if state is None:
                raise RpcError("no_such_character", f"no character '{p.name}'")
            self.claims.claim(p.account_id, world, state.name)
            return state

    @CharacterCalls.save_character.serve()
    async def save_character(self, conn: RpcConnection, p: SaveCharacter) -> SaveResult:
        world = link_world(conn)
        if p.state.world != world:
            raise RpcError("forbidden", f"the daemon of '{world}' saves only its own characters")
        result = await self.batcher.save(p.state)
        if p.final and result.ok:
            self.claims.release(p.state.account_id, world)
        return SaveResult(result.id, result.ok, result.version, result.reason)

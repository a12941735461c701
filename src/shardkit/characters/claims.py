"""One live character per account across all worlds: which world holds each account's character."""

from __future__ import annotations

from shardkit.runtime.turns import KeyedTurns


class Claims:
    """Account -> (world, character name key) of the character it has in play.

    ``turns`` makes an account's claim checks and the changes they guard (load, delete,
    rename) take turns, so two worlds loading at once cannot both put it in play.
    """

    def __init__(self) -> None:
        self._by_account: dict[int, tuple[str, str]] = {}
        self._moving_to: dict[int, int] = {}  # account -> the WorldServer a transfer moved it to
        self.turns = KeyedTurns()

    def __len__(self) -> int:
        """How many accounts have a character in play."""
        return len(self._by_account)

    def world_of(self, account_id: int) -> str | None:
        claim = self._by_account.get(account_id)
        return claim[0] if claim is not None else None

    def holds(self, account_id: int, world: str, name: str) -> bool:
        """Whether the account's character ``name`` is in play in ``world``."""
        return self._by_account.get(account_id) == (world, name.casefold())

    def claim(self, account_id: int, world: str, name: str) -> None:
        self._by_account[account_id] = (world, name.casefold())
        self._moving_to.pop(account_id, None)

    def move(self, account_id: int, world: str, name: str, cluster: int) -> None:
        """A transfer's save committed: the claim stays in play, now for WorldServer ``cluster``
        (until that WorldServer loads the character, or it leaves play)."""
        self._by_account[account_id] = (world, name.casefold())
        self._moving_to[account_id] = cluster

    def moving_to(self, account_id: int) -> int | None:
        """The WorldServer a transfer moved the account's character to, until it is loaded."""
        return self._moving_to.get(account_id)

    def release(self, account_id: int, world: str) -> None:
        """The account's character left play in ``world`` (a claim of another world stays)."""
        if self.world_of(account_id) == world:
            del self._by_account[account_id]
            self._moving_to.pop(account_id, None)

    def release_world(self, world: str) -> None:
        """Every claim of ``world`` (its daemon's link was replaced: its players start over)."""
        for account, claim in list(self._by_account.items()):
            if claim[0] == world:
                del self._by_account[account]
                self._moving_to.pop(account, None)

"""Whether a login or registration may go ahead: IP bans, per-IP/per-account back-off, known IPs."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from shardkit.config.settings import Master
from shardkit.master.bans import BanList
from shardkit.master.ratelimit import BackoffLimiter, RateLimited, ip_key
from shardkit.runtime.peerlog import PeerLog, quote
from shardkit.store.accounts import AccountStore
from shardkit.store.database import name_key
from shardkit.wire.rpc import RpcError

__all__ = ["LoginGuard"]

log = logging.getLogger("shardkit.master")
peer_log = PeerLog(log)
"""Back-off warnings, at most a few a minute per address and per account name."""

KNOWN_GOOD_CACHE = 100_000
NO_ACCOUNT = 0  # account ids start at 1: stands for an unknown name in the known-address check


class LoginGuard:
    """The master's abuse brakes, all in memory except the known-good lookup.

    - Failed password checks are counted per source IP (IPv6 per /64) and per account name;
      a key over its budget waits with growing back-off (``rate_limited``, "try again in N s").
    - The per-account brake does not apply to IPs the account has logged in from before, so an
      attacker cannot lock a player out of the account from the player's usual place.
    - Successes never count, so honest traffic from a busy IP is never slowed.
    """

    def __init__(self, cfg: Master, accounts: AccountStore, bans: BanList,
                 clock: Callable[[], float] = time.monotonic) -> None:
        backoff = (cfg.login_backoff_s, cfg.login_backoff_max_s)
        self.per_ip = BackoffLimiter(cfg.login_failures_per_ip, cfg.login_failure_window_s,
                                     *backoff, clock=clock)
        self.per_account = BackoffLimiter(cfg.login_failures_per_account,
                                          cfg.login_failure_window_s, *backoff, clock=clock)
        self.registrations = BackoffLimiter(cfg.registrations_per_ip, cfg.registration_window_s,
                                            clock=clock)
        self.bans = bans
        self._accounts = accounts
        self._known_good: OrderedDict[tuple[int, str], None] = OrderedDict()

    # --------------------------------------------------------------- logins
    def check_ip(self, ip: str) -> None:
        """Raise ``banned`` for a banned IP, ``rate_limited`` for one in back-off."""
        ban = self.bans.for_ip(ip)
        if ban is not None:
            raise RpcError("banned", self.bans.message_for(ban))
        wait = self.per_ip.retry_after(ip_key(ip))
        if wait > 0:
            raise RateLimited(wait)

    def account_wait(self, name: str) -> float:
        return self.per_account.retry_after(name_key(name))

    async def check_account(self, ip: str, name: str, account_id: int | None) -> None:
        """Raise ``rate_limited`` if the account is in back-off and ``ip`` is not one it knows.

        An unknown name is checked the same way (against an id no account has), so that
        whether a name in back-off exists does not show in how long the answer takes.
        """
        wait = self.account_wait(name)
        if wait > 0 and not await self._known(NO_ACCOUNT if account_id is None else account_id, ip):
            raise RateLimited(wait)

    async def _known(self, account_id: int, ip: str) -> bool:
        if (account_id, ip) in self._known_good:
            return True
        if await self._accounts.has_logged_in_from(account_id, ip):
            self._remember(account_id, ip)
            return True
        return False

    def _remember(self, account_id: int, ip: str) -> None:
        self._known_good[(account_id, ip)] = None
        self._known_good.move_to_end((account_id, ip))
        while len(self._known_good) > KNOWN_GOOD_CACHE:
            self._known_good.popitem(last=False)

    def failed(self, ip: str, name: str) -> None:
        """Count one failed password check against the IP and the account name."""
        ip_wait = self.per_ip.record(ip_key(ip))
        if ip_wait > 0:
            peer_log.warning(
                ip_key(ip), "login back-off",
                "failed logins from %s: back-off of %.0f s (password checks: %d per %.0f s)",
                ip_key(ip), ip_wait, self.per_ip.limit, self.per_ip.window_s,
            )
        account_wait = self.per_account.record(name_key(name))
        if account_wait > 0:
            peer_log.warning(
                name_key(name)[:64], "account back-off",
                "failed logins on account %s: back-off of %.0f s for unknown addresses",
                quote(name, 32), account_wait,
            )

    def succeeded(self, ip: str, account_id: int) -> None:
        self._remember(account_id, ip)

    # -------------------------------------------------------- registrations
    def check_registration(self, ip: str) -> None:
        ban = self.bans.for_ip(ip)
        if ban is not None:
            raise RpcError("banned", self.bans.message_for(ban))
        wait = self.registrations.retry_after(ip_key(ip))
        if wait > 0:
            raise RateLimited(wait, "too many new accounts from your address")

    def registering(self, ip: str) -> None:
        self.registrations.record(ip_key(ip))

"""Admin-console access control: allowed source IPs, constant-time login check, per-IP lockout."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["MAX_LOCKOUT_S", "AccessPolicy"]

log = logging.getLogger("shardkit.console")

#: Upper bound for the doubling lockout (15 minutes).
MAX_LOCKOUT_S = 15 * 60.0

# Above this many tracked IPs, stale entries are pruned on the next failure.
_PRUNE_THRESHOLD = 1024

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class _IpState:
    """Failed-login bookkeeping for one remote IP."""

    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0
    level: int = 0  # number of lockouts so far; the next one lasts lockout_s * 2**level


def _parse_address(ip: str) -> _Address | None:
    """Parse a peer address; IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes plain IPv4."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except (ValueError, AttributeError):
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _safe(text: str, limit: int = 64) -> str:
    """Render attacker-supplied text for a log line (repr, truncated, no raw newlines)."""
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


class AccessPolicy:
    """Who may use an admin console: one username/password pair, from allowed networks only.

    Failed logins are counted per remote IP: ``max_failures`` failures within ``window_s``
    seconds lock that IP out for ``lockout_s`` seconds; each further lockout doubles the
    duration, up to 15 minutes. The doubling is forgotten after a successful login from
    that IP, or once 15 minutes have passed since the previous lockout ended.
    """

    def __init__(
        self,
        username: str,
        password: str,
        allowed_ips: list[str],
        max_failures: int = 5,
        window_s: float = 60.0,
        lockout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not username:
            raise ValueError("AccessPolicy: username must not be empty")
        if not password:
            raise ValueError("AccessPolicy: password must not be empty")
        if isinstance(allowed_ips, str):
            raise ValueError("AccessPolicy: allowed_ips must be a list of strings, not one string")
        if max_failures < 1:
            raise ValueError(f"AccessPolicy: max_failures must be >= 1, got {max_failures}")
        if window_s <= 0:
            raise ValueError(f"AccessPolicy: window_s must be > 0, got {window_s}")
        if lockout_s <= 0:
            raise ValueError(f"AccessPolicy: lockout_s must be > 0, got {lockout_s}")
        networks: list[_Network] = []
        for entry in allowed_ips:
            if not isinstance(entry, str):
                raise ValueError(f"AccessPolicy: invalid allowed_ips entry {entry!r}: not a string")
            try:
                net = ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"AccessPolicy: invalid allowed_ips entry {entry!r}: "
                    f"expected an IPv4/IPv6 address or CIDR ({exc})"
                ) from None
            networks.append(net)
        self._username = username.encode("utf-8")
        self._password = password.encode("utf-8")
        self._networks: tuple[_Network, ...] = tuple(networks)
        self.max_failures = max_failures
        self.window_s = float(window_s)
        self.lockout_s = float(lockout_s)
        self._max_lockout_s = max(MAX_LOCKOUT_S, self.lockout_s)
        self._clock = clock
        self._states: dict[str, _IpState] = {}

    def __repr__(self) -> str:
        nets = ", ".join(str(n) for n in self._networks)
        return f"AccessPolicy(allowed_ips=[{nets}], max_failures={self.max_failures})"

    # -- source address ------------------------------------------------------------------------

    def ip_allowed(self, ip: str) -> bool:
        """Whether a connection from ``ip`` may proceed to login; refusals are logged."""
        addr = _parse_address(ip)
        if addr is not None:
            candidates = {addr}
            try:  # an IPv4-mapped peer also matches an entry written as ::ffff:a.b.c.d/n
                candidates.add(ipaddress.ip_address(ip.strip()))
            except ValueError:
                pass
            if any(a in net for a in candidates for net in self._networks):
                return True
        log.warning("console: refused connection from disallowed address %s", _safe(str(ip)))
        return False

    # -- credentials and lockout ---------------------------------------------------------------

    def locked_out_for(self, ip: str) -> float:
        """Seconds left of the lockout of ``ip`` (0.0 when it is not locked out)."""
        state = self._states.get(self._key(ip))
        if state is None:
            return 0.0
        return max(0.0, state.locked_until - self._clock())

    def check_credentials(self, ip: str, username: str, password: str) -> bool:
        """Check a login attempt from ``ip`` in constant time, recording failures.

        Always False while ``ip`` is locked out (the credentials are then not even compared).
        """
        key = self._key(ip)
        now = self._clock()
        state = self._states.get(key)
        if state is not None and now < state.locked_until:
            log.warning(
                "console: login refused for %s from %s: locked out for %.0f more s",
                _safe(username),
                key,
                state.locked_until - now,
            )
            return False
        # Compare both fields every time (no short circuit), as bytes so that non-ASCII
        # input cannot make compare_digest raise.
        user_ok = hmac.compare_digest(username.encode("utf-8", "surrogatepass"), self._username)
        pass_ok = hmac.compare_digest(password.encode("utf-8", "surrogatepass"), self._password)
        if user_ok & pass_ok:
            self._states.pop(key, None)
            log.info("console: login succeeded for %s from %s", _safe(username), key)
            return True
        self._record_failure(key, now)
        log.warning("console: login failed for %s from %s", _safe(username), key)
        return False

    def _record_failure(self, key: str, now: float) -> None:
        state = self._states.get(key)
        if state is None:
            if len(self._states) >= _PRUNE_THRESHOLD:
                self._prune(now)
            state = self._states[key] = _IpState()
        while state.failures and state.failures[0] <= now - self.window_s:
            state.failures.popleft()
        state.failures.append(now)
        if len(state.failures) < self.max_failures:
            return
        if state.level and now - state.locked_until >= self._max_lockout_s:
            state.level = 0  # quiet long enough since the last lockout: forgive the escalation
        duration = min(self.lockout_s * (2**state.level), self._max_lockout_s)
        state.locked_until = now + duration
        state.level += 1
        state.failures.clear()
        log.warning(
            "console: %d failed logins from %s within %.0f s; locked out for %.0f s",
            self.max_failures,
            key,
            self.window_s,
            duration,
        )

    def _prune(self, now: float) -> None:
        """Forget IPs with no lockout in force, no recent failure and nothing left to escalate."""
        stale = [
            key
            for key, st in self._states.items()
            if now >= st.locked_until
            and (not st.failures or st.failures[-1] <= now - self.window_s)
            and (st.level == 0 or now - st.locked_until >= self._max_lockout_s)
        ]
        for key in stale:
            del self._states[key]

    @staticmethod
    def _key(ip: str) -> str:
        addr = _parse_address(ip)
        return str(addr) if addr is not None else str(ip)

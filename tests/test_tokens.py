"""Generated passwords and keys never start with '-' (tools would read them as options)."""

from __future__ import annotations

import secrets

import pytest

from shardkit.config.settings import generate_secrets
from shardkit.config.tokens import pasteable_token


def test_a_token_that_would_start_with_a_dash_is_redrawn(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter(["-S7tYQG2Xx", "_-second", "third"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda nbytes: next(draws))
    assert pasteable_token(8) == "_-second"


def test_generated_passwords_do_not_start_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    real = secrets.token_urlsafe
    calls = 0

    def every_other_starts_with_dash(nbytes: int) -> str:
        nonlocal calls
        calls += 1
        token = real(nbytes)
        return "-" + token[1:] if calls % 2 else token

    monkeypatch.setattr(secrets, "token_urlsafe", every_other_starts_with_dash)
    made = generate_secrets()
    passwords = [made.manhole_password, made.daemon_console_password, made.world_console_password]
    assert all(len(p) == 24 and not p.startswith("-") for p in passwords)

"""The pure parts of player-to-player safety: text cleaning, chat throttles, turns, lookups."""

from __future__ import annotations

import asyncio
import unicodedata

import pytest

from shardkit.daemon.backups import check_backup_name
from shardkit.master.account_lookup import MAX_NAME_CHARS, AccountLookup
from shardkit.runtime.turns import KeyedTurns
from shardkit.store.accounts import AccountRecord
from shardkit.wire.rpc import RpcError
from shardkit.wire.text import MAX_COMBINING, clean_text
from shardkit.wire.throttle import KeyedThrottle, TokenBucket, throttled


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --------------------------------------------------------------------------- clean_text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("hello", "hello"),
        ("  padded  ", "padded"),
        ("a\nb\r\nc\td", "a b c d"),  # no line of its own for anything
        ("line\n[notice] ADMIN: restart", "line [notice] ADMIN: restart"),
        ("\x1b[2J\x1b[Hclear", "clear"),  # CSI: clear screen, cursor home
        ("\x1b[1;31mred\x1b[0m", "red"),
        ("\x1b]0;window title\x07after", "after"),  # OSC, ended by BEL
        ("\x1b]52;c;ZXZpbA==\x1b\\after", "after"),  # OSC 52 clipboard, ended by ST
        ("\x1bP1$r q\x1b\\after", "after"),  # DCS
        ("before\x1b]0;never ended", "before"),  # an unterminated OSC swallows the rest
        ("\x9b2J\x9d0;title\x9cok", "ok"),  # the 8-bit C1 forms
        ("esc\x1bc", "esc"),  # ESC c: reset the terminal
        ("bell\x07 nul\x00 del\x7f", "bell nul del"),
        ("left\u202eright\u202c", "leftright"),  # bidi override
        ("\u2066isolate\u2069 \u200fmark", "isolate mark"),
        ("zero\u200bwidth\ufeff\u00ad", "zerowidth"),  # zero-width space, BOM, soft hyphen
        ("para\u2028graph\u2029end", "para graph end"),
        ("wide\u3000space\u00a0nbsp", "wide space nbsp"),
        ("tag\U000e0041s", "tags"),  # invisible tag characters
    ],
)
def test_clean_text_drops_what_acts_on_a_terminal(raw: str, shown: str) -> None:
    assert clean_text(raw, 256) == shown


@pytest.mark.parametrize(
    "text",
    [
        "Grüße aus Köln", "こんにちは世界", "مرحبا بالعالم", "नमस्ते दुनिया", "Ελληνικά", "😀🎉 gg",
        "👨\u200d👩\u200d👧 family", "ﾊﾝｶｸ", "Tiếng Việt", "a < b & c > d \"quoted\" 'single'",
    ],
)
def test_clean_text_keeps_printable_unicode(text: str) -> None:
    assert clean_text(text, 256) == text


def test_clean_text_bounds_length_and_stacked_marks() -> None:
    assert clean_text("x" * 1000, 256) == "x" * 256
    assert clean_text("ab", 0) == ""
    zalgo = "e" + "\u0301" * 50 + "x"
    assert clean_text(zalgo, 256) == "e" + "\u0301" * MAX_COMBINING + "x"
    flood = "\x1b[1m" * 100_000 + "tail"  # escape sequences cannot make cleaning expensive
    assert clean_text(flood, 256) == ""
    assert clean_text("word " * 100, 20) == "word word word word"


def test_clean_text_without_squeezing_keeps_the_layout() -> None:
    assert clean_text("  1. Atlantis      up", 100, squeeze=False) == "  1. Atlantis      up"
    assert clean_text("a\nb\x1b[2Jc\x07", 100, squeeze=False) == "a bc"


def test_clean_text_output_never_has_controls_or_format_characters() -> None:
    every_bmp = "".join(chr(c) for c in range(0x20000) if not 0xD800 <= c <= 0xDFFF)
    for start in range(0, len(every_bmp), 200):
        shown = clean_text(every_bmp[start:start + 200], 1000)
        bad = [c for c in shown if unicodedata.category(c) in ("Cc", "Cs")
               or (unicodedata.category(c) == "Cf" and c not in "\u200c\u200d")]
        assert not bad and "\n" not in shown, (start, bad)


# ----------------------------------------------------------------------------- throttles


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_s=1.0, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert bucket.retry_after() == pytest.approx(1.0)
    clock.advance(0.5)
    assert not bucket.take() and bucket.retry_after() == pytest.approx(0.5)
    clock.advance(0.5)
    assert bucket.take() and not bucket.take()
    clock.advance(1000)  # idle for long: back to the burst, not more
    assert bucket.full() and [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_token_bucket_checks_its_settings_and_ignores_a_clock_going_back() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0.0, 3)
    with pytest.raises(ValueError):
        TokenBucket(float("nan"), 3)
    with pytest.raises(ValueError):
        TokenBucket(1.0, 0)
    clock = Clock()
    bucket = TokenBucket(1.0, 1, clock=clock)
    assert bucket.take()
    clock.advance(-50)
    assert not bucket.take()


def test_throttled_error_says_when_to_try_again() -> None:
    clock = Clock()
    bucket = TokenBucket(0.25, 1, clock=clock)
    bucket.take()
    error = throttled(bucket, "you are chatting too fast")
    assert isinstance(error, RpcError) and error.code == "rate_limited"
    assert error.message == "you are chatting too fast; try again in 4 s"


def test_keyed_throttle_keeps_one_budget_per_key_in_bounded_memory() -> None:
    clock = Clock()
    throttle = KeyedThrottle(rate_per_s=1.0, burst=2, max_keys=100, clock=clock)
    assert [throttle.take("spammer") for _ in range(3)] == [True, True, False]
    assert throttle.take("other")  # one key's flood costs nobody else anything
    for key in range(10_000):  # many keys, each using up its budget: memory stays bounded
        throttle.take(key)
        throttle.take(key)
        assert len(throttle) <= 100
    clock.advance(10)  # everyone's budget refilled: when room is needed, full buckets go first
    sizes = []
    for i in range(30):
        throttle.take(f"fresh{i}")
        sizes.append(len(throttle))
    assert min(sizes) <= 30  # every refilled bucket was forgotten at once, not just a quarter
    with pytest.raises(ValueError):
        KeyedThrottle(1.0, 2, max_keys=0)


def test_keyed_throttle_does_not_forget_a_spammer_while_others_are_idle() -> None:
    clock = Clock()
    throttle = KeyedThrottle(rate_per_s=0.01, burst=1, max_keys=10, clock=clock)
    for key in range(9):
        throttle.take(key)
    clock.advance(200)  # the nine have refilled
    assert throttle.take("spammer") and not throttle.take("spammer")
    throttle.take("newcomer")  # the table is full: full buckets go, the spammer's stays
    assert not throttle.take("spammer")


# --------------------------------------------------------------------------------- turns


async def test_turns_serialize_one_key_and_leave_others_alone() -> None:
    turns = KeyedTurns()
    order: list[str] = []
    release = asyncio.Event()

    async def hold(key: str, label: str, wait: bool) -> None:
        async with turns.turn(key):
            order.append(f"{label} in")
            if wait:
                await release.wait()
            order.append(f"{label} out")

    first = asyncio.create_task(hold("a", "first", True))
    await asyncio.sleep(0)
    second = asyncio.create_task(hold("a", "second", False))
    other = asyncio.create_task(hold("b", "other", False))
    await asyncio.wait_for(other, 1)  # another key does not wait
    assert order == ["first in", "other in", "other out"]
    assert turns.busy("a")
    release.set()
    await asyncio.wait_for(asyncio.gather(first, second), 1)
    assert order[3:] == ["first out", "second in", "second out"]
    assert len(turns) == 0  # nothing kept for keys not in use


async def test_a_cancelled_waiter_does_not_disturb_the_holder() -> None:
    turns = KeyedTurns()
    release = asyncio.Event()

    async def holder() -> str:
        async with turns.turn("k"):
            await release.wait()
            return "done"

    async def waiter() -> None:
        async with turns.turn("k"):
            pass

    holding = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    release.set()
    assert await asyncio.wait_for(holding, 1) == "done"
    async with turns.turn("k"):  # and the key is free again
        pass


# ------------------------------------------------------------------------ account lookups


class FakeAccounts:
    """get_many_by_name that counts its queries and lets the test decide when they answer."""

    def __init__(self, names: list[str]) -> None:
        self.records = {n.casefold(): _record(i, n) for i, n in enumerate(names, start=1)}
        self.queries: list[list[str]] = []
        self.gate = asyncio.Event()

    async def get_many_by_name(self, names: list[str]) -> dict[str, AccountRecord]:
        self.queries.append(list(names))
        await self.gate.wait()
        return {
            n.casefold(): self.records[n.casefold()] for n in names if n.casefold() in self.records
        }


def _record(account_id: int, name: str) -> AccountRecord:
    from datetime import UTC, datetime

    return AccountRecord(id=account_id, name=name, salt=b"s" * 16, stored_key=b"k" * 32,
                         server_key=b"v" * 32, iterations=4096, role="player",
                         created_at=datetime.now(UTC), last_login_at=None)


async def test_every_lookup_asks_the_store_known_or_not_and_concurrent_ones_share_a_query() -> None:
    store = FakeAccounts(["Alice"])
    lookup = AccountLookup(store)  # type: ignore[arg-type]
    lookup.start()
    try:
        store.gate.set()
        assert (await lookup.get_by_name("alice")).name == "Alice"  # type: ignore[union-attr]
        assert await lookup.get_by_name("nobody") is None
        assert (await lookup.get_by_name("ALICE")).id == 1  # type: ignore[union-attr]
        assert store.queries == [["alice"], ["nobody"], ["ALICE"]]  # no cache: always asked

        store.gate.clear()
        first = asyncio.create_task(lookup.get_by_name("alice"))
        await asyncio.sleep(0.01)  # the first query is under way...
        rest = [asyncio.create_task(lookup.get_by_name(n)) for n in ("x1", "Alice", "x2")]
        await asyncio.sleep(0.01)
        store.gate.set()  # ...and the three that came meanwhile share the next one
        results = await asyncio.wait_for(asyncio.gather(first, *rest), 1)
        assert [r.id if r else None for r in results] == [1, None, 1, None]
        assert store.queries[3:] == [["alice"], ["x1", "Alice", "x2"]]
        assert await lookup.get_by_name("n" * (MAX_NAME_CHARS + 1)) is None
        assert len(store.queries) == 5  # a name no account can have is not looked up
    finally:
        await lookup.close()


# ----------------------------------------------------------------------------- file names


@pytest.mark.parametrize("name", ["master.db\n", "master.db\r", "a\nb.db", "master.db\x00"])
def test_backup_names_with_a_line_break_are_refused(name: str) -> None:
    with pytest.raises(RpcError) as refused:
        check_backup_name(name)
    assert refused.value.code == "bad_name"

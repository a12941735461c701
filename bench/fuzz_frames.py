"""Hostile MessagePack-RPC frames for bench/fuzz_ports.py: Hypothesis-made, pooled and mutated.

The strategies are built from each port's method schemas.

How frames are made, fast enough for 10^5 per port:

1. For each port, a Hypothesis strategy builds messages from the port's declared methods
   (``methods_of`` on its service classes, each params schema read with ``msgspec.inspect``):
   requests and notifications with right, wrong, missing and extra params (a wrong type for
   each declared field, a base64 text where bytes are declared), unknown and other ports'
   methods, responses nobody asked for, almost-shaped messages (wrong kind, lengths, msgid,
   method or params types), non-arrays, error notifications with long text, and huge, deep
   or odd containers (built as raw bytes: 250,000 empty arrays still fit the byte limit).
2. ``collect`` runs the strategy under ``@given`` with a collector a few hundred to a few
   thousand times (seeded), so Hypothesis's engine does the generating once, up front.
3. Each example is encoded and decoded again with the server's own unpacker settings, which
   tells whether the server will close the connection on it (``fatal``) before or after a
   player logged in. The stream is then drawn from that pool with a seeded ``random.Random``
   (weights keep big frames rare), plus raw byte mutations of valid frames made on the fly,
   plus the issue's cases (``case_frames``).
"""

from __future__ import annotations

import base64
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack
import msgspec
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from shardkit.wire.rpc import Limits, MethodSpec

MAX_MESSAGE_BYTES = Limits().max_message_bytes
ALL_KINDS = ("nil", "bool", "int", "float", "str", "bytes", "array", "map")

EDGE_INTS = [0, 1, -1, 2, 127, 128, 255, 256, 65535, 65536, 2**31 - 1, 2**31, -(2**31),
             2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1]
EDGE_FLOATS = [0.0, -0.0, math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 1e-310, 0.5]
EDGE_STRINGS = [
    "", " ", "\n", "\r\n", "\x00", "\t", "admin\n", "root\n", "admin", "Admin", "root", "gm",
    "abcdefghijklmnopqrstu", "A" * 20, "a" * 21, "ab", "x" * 300, "Atlantis", "town", "meadow",
    "Atlantis\n", "\x1b[2J\x1b[H", "\x1b]0;pwned\x07", "\x1b]52;c;cHduZWQ=\x07",
    "\r[notice] ADMIN: the server restarts, tell us your password\n", "\x1b[31mred\x1b[0m",
    "\u202eevil", "\u200b", "\ufeff", "\U0010ffff", "é" * 40, "%s%s%s%n", "{0}{1}",
    "'; DROP TABLE accounts;--", "../../../etc/passwd", "n,,n=x,r=abc", "c=biws,r=abc,p=AAAA",
    "n,,n=admin,r=" + "r" * 40, "\x7f\x08\x08\x08", "name\rname", "Bob-", "O''Neil",
]
REPEAT_UNITS = ["A", "é", "\n", "\x1b[2J", "\x00", "[notice] ", "あ"]


def schema_kinds(spec: MethodSpec) -> list[frozenset[str]]:
    """The wire kinds each positional param of a method accepts (one set per field)."""
    if spec.params is None:
        return []
    info = msgspec.inspect.type_info(spec.params)
    return [_kinds(f.type) for f in getattr(info, "fields", ())]


def _kinds(t: Any) -> frozenset[str]:
    mi = msgspec.inspect
    simple = {mi.StrType: "str", mi.BytesType: "bytes", mi.ByteArrayType: "bytes",
              mi.IntType: "int", mi.BoolType: "bool", mi.NoneType: "nil"}
    for cls, kind in simple.items():
        if isinstance(t, cls):
            return frozenset({kind})
    if isinstance(t, mi.FloatType):
        return frozenset({"float", "int"})
    if isinstance(t, mi.DictType | mi.TypedDictType):
        return frozenset({"map"})
    if isinstance(t, mi.ListType | mi.TupleType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
        return frozenset({"array"})
    if isinstance(t, mi.StructType):
        return frozenset({"array" if t.array_like else "map"})
    if isinstance(t, mi.UnionType):
        return frozenset().union(*(_kinds(x) for x in t.types))
    return frozenset(ALL_KINDS)


def _repeat(unit: str, count: int) -> str:
    return unit * count


@dataclass(frozen=True)
class Raw:
    """Bytes sent as they are (built by hand: containers too big to build, bad encodings)."""

    data: bytes


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x90 | n])
    if n < 65536:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def _map_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x80 | n])
    if n < 65536:
        return b"\xde" + n.to_bytes(2, "big")
    return b"\xdf" + n.to_bytes(4, "big")


def request_prefix(method: str, msgid: int = 1) -> bytes:
    """``[0, msgid, method,`` : a request header; the params array follows."""
    return b"\x94" + msgpack.packb(0) + msgpack.packb(msgid) + msgpack.packb(method)


def wide_params(method: str, count: int, element: bytes) -> bytes:
    """A request whose params hold one array of ``count`` copies of one encoded element."""
    return request_prefix(method) + b"\x91" + _array_header(count) + element * count


def deep_params(method: str, depth: int) -> bytes:
    """A request whose first param is an array nested ``depth`` deep."""
    return request_prefix(method) + b"\x91" + b"\x91" * depth + b"\xc0"


def wide_map_params(method: str, count: int) -> bytes:
    """A request whose first param is a map of ``count`` distinct short keys."""
    body = b"".join(msgpack.packb(f"k{i}") + b"\xc0" for i in range(count))
    return request_prefix(method) + b"\x91" + _map_header(count) + body


def empty_array_bomb(method: str, megabytes: float) -> bytes:
    """Issue 7 case 2: one request of millions of empty arrays (one byte each)."""
    count = int(megabytes * 1024 * 1024)
    return request_prefix(method) + b"\x91" + _array_header(count) + b"\x90" * count


def odd_raw_frames(methods: Sequence[str]) -> st.SearchStrategy[Raw]:
    """Containers within (and just past) the byte limit, and encodings the unpacker must refuse."""
    method = st.sampled_from(list(methods) or ["ping"])
    element = st.sampled_from([b"\x90", b"\x80", b"\xc0", b"\x00", b"\xc3", b"\xa0",
                               b"\xcb" + b"\x7f\xf8" + b"\x00" * 6])
    return st.one_of(
        st.builds(lambda m, n, e: Raw(wide_params(m, n, e)), method,
                  st.integers(1_000, MAX_MESSAGE_BYTES - 64), element),
        st.builds(lambda m, n, e: Raw(wide_params(m, n, e)), method,
                  st.integers(MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES + 4096), element),
        st.builds(lambda m, n: Raw(deep_params(m, n)), method, st.integers(10, 5_000)),
        st.builds(lambda m, n: Raw(wide_map_params(m, n)), method, st.integers(100, 40_000)),
        st.builds(lambda m, n: Raw(request_prefix(m) + b"\x91\xdb" + n.to_bytes(4, "big")
                                   + b"s" * n), method, st.integers(1, MAX_MESSAGE_BYTES)),
        st.builds(lambda m: Raw(request_prefix(m) + b"\x91\xa3\xff\xfe\xfd"), method),  # bad UTF-8
        st.builds(lambda m: Raw(request_prefix(m) + b"\x91\x81\x01\x02"), method),  # int map key
        # a bad timestamp
        st.builds(lambda m: Raw(request_prefix(m) + b"\x91\xd6\xff\x00\x00"), method),
        st.builds(lambda m: Raw(request_prefix(m) + b"\x91\xc1"), method),  # reserved byte
        st.builds(lambda m, n: Raw(request_prefix(m) + b"\x91\xdd" + n.to_bytes(4, "big")), method,
                  st.integers(2**20, 2**32 - 1)),  # claims more elements than ever follow
        st.just(Raw(b"\xc1")),
        st.just(Raw(b"\x94\x00\x01")),  # truncated request
        st.binary(min_size=1, max_size=64).map(Raw),
    )


class PortStrategies:
    """Hypothesis strategies for one port's hostile messages."""

    def __init__(self, methods: Sequence[MethodSpec], foreign_methods: Iterable[str],
                 known_names: Sequence[str]) -> None:
        self.methods = list(methods)
        self.kinds = {m.name: schema_kinds(m) for m in self.methods}
        self.foreign = sorted(set(foreign_methods) - set(self.kinds))
        edge = EDGE_STRINGS + list(known_names)
        small_int = st.integers(-5, 300)
        self.by_kind: dict[str, st.SearchStrategy[Any]] = {
            "nil": st.none(),
            "bool": st.booleans(),
            "int": st.one_of(st.integers(-(2**63), 2**64 - 1), st.sampled_from(EDGE_INTS),
                             small_int),
            "float": st.one_of(st.floats(), st.sampled_from(EDGE_FLOATS)),
            "str": st.one_of(st.text(max_size=24), st.sampled_from(edge), st.sampled_from(edge),
                             st.builds(_repeat, st.sampled_from(REPEAT_UNITS),
                                       st.integers(1, 70_000))),
            "bytes": st.one_of(st.binary(max_size=70), st.builds(bytes, st.integers(0, 100_000))),
            "ext": st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=16)),
        }
        leaf = st.one_of(*self.by_kind.values())
        self.value = st.recursive(
            leaf,
            lambda inner: st.one_of(st.lists(inner, max_size=6),
                                    st.dictionaries(st.text(max_size=8), inner, max_size=6)),
            max_leaves=16,
        )
        self.by_kind["array"] = st.lists(self.value, max_size=6)
        self.by_kind["map"] = st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(edge)),
                                              self.value, max_size=6)
        self.base64_text = st.binary(min_size=1, max_size=64).map(
            lambda b: base64.b64encode(b).decode())
        self.msgid = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from(EDGE_INTS))
        self.method_name = st.one_of(
            *([st.sampled_from(sorted(self.kinds))] * 4 if self.kinds else []),
            *([st.sampled_from(self.foreign)] if self.foreign else []),
            st.text(max_size=30), st.sampled_from(edge),
        )

    def right(self, kinds: frozenset[str]) -> st.SearchStrategy[Any]:
        return st.one_of(*(self.by_kind[k] for k in sorted(kinds) if k in self.by_kind))

    def wrong(self, kinds: frozenset[str]) -> st.SearchStrategy[Any]:
        others = [self.by_kind[k] for k in ALL_KINDS if k not in kinds]
        others.append(self.by_kind["ext"])
        if "bytes" in kinds:
            others.append(self.base64_text)  # issue 7 case 10: base64 text for a bytes param
        return st.one_of(*others)

    def params(self, method: str) -> st.SearchStrategy[list[Any]]:
        kinds = self.kinds.get(method)
        if kinds is None:
            return st.lists(self.value, max_size=5)
        right = st.tuples(*(self.right(k) for k in kinds)).map(list)
        variants: list[st.SearchStrategy[list[Any]]] = [right, right]
        if kinds:
            variants.append(st.integers(0, len(kinds) - 1).flatmap(
                lambda i: st.tuples(*(self.wrong(k) if j == i else self.right(k)
                                      for j, k in enumerate(kinds))).map(list)))
            variants.append(st.tuples(*(self.wrong(k) for k in kinds)).map(list))
            variants.append(right.map(lambda p: p[:-1]))
        variants.append(st.tuples(right, st.lists(self.value, min_size=1, max_size=3))
                        .map(lambda pair: pair[0] + pair[1]))
        variants.append(st.lists(self.value, max_size=5))
        return st.one_of(*variants)

    def message(self) -> st.SearchStrategy[Any]:
        """One hostile message (an object to encode, or ``Raw`` bytes)."""
        request = self.method_name.flatmap(
            lambda m: st.tuples(st.just(0), self.msgid, st.just(m), self.params(m)).map(list))
        notify = self.method_name.flatmap(
            lambda m: st.tuples(st.just(2), st.just(m), self.params(m)).map(list))
        long_text = st.builds(_repeat, st.sampled_from(REPEAT_UNITS), st.integers(1, 80_000))
        error_notify = st.one_of(
            st.lists(self.value, max_size=3),
            st.tuples(st.fixed_dictionaries({"code": self.by_kind["str"], "message": long_text}))
            .map(list),
            st.tuples(long_text).map(list),
        ).map(lambda params: [2, "error", params])
        response = st.tuples(st.just(1), st.one_of(self.msgid, self.value), self.value,
                             self.value).map(list)
        weird_kind = st.one_of(st.sampled_from([3, -1, 255, 2**32, 0.0, 1.5, "0", None, True,
                                                False, b"\x00", []]), self.value)
        almost = st.one_of(
            st.tuples(weird_kind, self.msgid, self.method_name, st.lists(self.value, max_size=3))
            .map(list),
            st.tuples(st.just(0), self.value, self.method_name, st.lists(self.value, max_size=3))
            .map(list),
            st.tuples(st.just(0), self.msgid, self.value, st.lists(self.value, max_size=3))
            .map(list),
            st.tuples(st.just(0), self.msgid, self.method_name, self.value).map(list),
            st.tuples(st.just(2), self.value, st.lists(self.value, max_size=3)).map(list),
            st.tuples(st.just(2), self.method_name, self.value).map(list),
            st.lists(self.value, max_size=6).map(lambda tail: [0, *tail]),
            st.lists(self.value, max_size=6).map(lambda tail: [1, *tail]),
            st.lists(self.value, max_size=6).map(lambda tail: [2, *tail]),
            self.value,
        )
        return st.one_of(request, request, request, notify, notify, error_notify, response,
                         almost, almost, odd_raw_frames(sorted(self.kinds)))


def collect(strategy: st.SearchStrategy[Any], count: int, seed: int) -> list[Any]:
    """``count`` examples of a strategy, drawn by Hypothesis's engine in one seeded run."""
    found: list[Any] = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def keep(example: Any) -> None:
        found.append(example)

    keep()
    return found


def encode(example: Any) -> bytes | None:
    """Wire bytes of an example, or None if MessagePack cannot carry it."""
    if isinstance(example, Raw):
        return example.data
    try:
        return msgpack.packb(example, use_bin_type=True)
    except (OverflowError, ValueError, TypeError):
        return None


_INCOMPLETE = object()
_UNDECODABLE = object()


def decode_like_server(data: bytes) -> Any:
    """What the server's unpacker makes of a frame: the object, ``_INCOMPLETE`` or
    ``_UNDECODABLE``."""
    if len(data) > MAX_MESSAGE_BYTES + 1024:
        return _UNDECODABLE
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=MAX_MESSAGE_BYTES, strict_map_key=True)
    try:
        unpacker.feed(data)
        objects = list(unpacker)
    except (msgpack.BufferFull, ValueError, msgpack.UnpackException, TypeError):
        return _UNDECODABLE
    if not objects:
        return _INCOMPLETE
    if len(objects) > 1:
        return _UNDECODABLE  # a raw frame that is several messages: keep it at a session's end
    return objects[0]


def closes_connection(message: Any, methods: dict[str, MethodSpec], as_player: bool) -> bool:
    """Whether the server drops the connection on this decoded message (as RpcConnection does)."""
    if message is _INCOMPLETE or message is _UNDECODABLE:
        return True
    if not isinstance(message, list) or not message or message[0] not in (0, 1, 2):
        return True
    kind = message[0]
    if kind == 0 and len(message) == 4 and isinstance(message[2], str):
        return not isinstance(message[1], int) or not isinstance(message[3], list)
    if kind == 2 and len(message) == 3 and isinstance(message[1], str):
        if not isinstance(message[2], list):
            return True
        spec = methods.get(message[1])
        if spec is None or spec.roles is None:
            return False
        return not as_player or "player" not in spec.roles  # auth_required / forbidden: closed
    return not (kind == 1 and len(message) == 4)


BIG_FRAME_BYTES = 2048
"""Frames above this size go one per round trip (a server may well close on them)."""

POOL_NAMES = ("safe_before_login", "safe_after_login", "big_before_login", "big_after_login",
              "closing_before_login")


@dataclass
class FramePool:
    """A port's encoded frames, sorted by what they do to a connection.

    ``safe_*``: small frames the server answers and keeps the connection for (before or
    after a player logged in); ``big_*``: the same kind of frames above BIG_FRAME_BYTES;
    ``closing_before_login``: frames the server closes the connection on.
    """

    frames: dict[str, list[bytes]] = field(default_factory=lambda: {n: [] for n in POOL_NAMES})

    def add(self, data: bytes, safe_before: bool, safe_after: bool) -> None:
        size = "big" if len(data) > BIG_FRAME_BYTES else "safe"
        if safe_before:
            self.frames[f"{size}_before_login"].append(data)
        else:
            self.frames["closing_before_login"].append(data)
        if safe_after:
            self.frames[f"{size}_after_login"].append(data)

    def draw(self, rng: random.Random, which: str, count: int) -> list[bytes]:
        frames = self.frames[which]
        return rng.choices(frames, k=count) if frames else []

    def draw_one(self, rng: random.Random, which: str) -> bytes | None:
        frames = self.frames[which]
        return rng.choice(frames) if frames else None

    def sizes(self) -> dict[str, int]:
        return {name: len(frames) for name, frames in self.frames.items()}


#: Methods whose well-formed call ends a logged-in fuzz session (it would have to log in again).
ENDS_SESSION = frozenset({"logout", "change_password"})


def build_pool(methods: Sequence[MethodSpec], foreign_methods: Iterable[str],
               known_names: Sequence[str], count: int, seed: int) -> FramePool:
    """Generate ``count`` hostile messages with Hypothesis and sort them into a FramePool."""
    strategies = PortStrategies(methods, foreign_methods, known_names)
    by_name = {m.name: m for m in methods}
    pool = FramePool()
    for example in collect(strategies.message(), count, seed):
        data = encode(example)
        if data is None:
            continue
        decoded = decode_like_server(data)
        ends_session = (isinstance(decoded, list) and len(decoded) > 2 and decoded[0] in (0, 2)
                        and isinstance(decoded[-2], str) and decoded[-2] in ENDS_SESSION)
        pool.add(data, not closes_connection(decoded, by_name, as_player=False),
                 not closes_connection(decoded, by_name, as_player=True) and not ends_session)
    return pool


# ----------------------------------------------------------------- raw mutations

_INTERESTING_BYTES = [0x00, 0x7f, 0x80, 0x90, 0xc0, 0xc1, 0xc2, 0xc4, 0xd4, 0xd9, 0xdb, 0xdc,
                      0xdd, 0xde, 0xdf, 0xff]


def mutate(frame: bytes, rng: random.Random) -> bytes:
    """A raw mutation of a valid frame: flipped bits, interesting bytes, cuts, repeats, splices."""
    data = bytearray(frame)
    for _ in range(rng.randint(1, 4)):
        if not data:
            data.append(rng.randrange(256))
        op = rng.randrange(7)
        pos = rng.randrange(len(data))
        if op == 0:
            data[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[pos] = rng.choice(_INTERESTING_BYTES)
        elif op == 2:
            del data[pos:]
        elif op == 3:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 4:
            end = min(len(data), pos + rng.randint(1, 32))
            data[pos:pos] = data[pos:end] * rng.randint(1, 8)
        elif op == 5:
            data[pos:pos + 1] = rng.choice([b"\xdd\xff\xff\xff\xff", b"\xdf\x7f\xff\xff\xff",
                                            b"\xdb\x7f\xff\xff\xff", b"\xc6\x7f\xff\xff\xff"])
        else:
            data[pos:pos + rng.randint(1, 4)] = b""
    return bytes(data)


# ------------------------------------------------------------------- the cases


def packed(message: Any) -> bytes:
    return msgpack.packb(message, use_bin_type=True)


@dataclass(frozen=True)
class CaseFrames:
    """One of issue 7's hostile inputs: ``repeat`` copies of ``frames`` on one connection."""

    case: str
    frames: tuple[bytes, ...]
    repeat: int = 1
    after_login: bool = False
    closes: bool = False  # expected to close the connection (sent last, no marker after it)


def verifier_params(name: str, salt: Any = b"s" * 16) -> list[Any]:
    """Well-formed ``register`` params (a verifier of the right shape) for a hostile name."""
    return [name, salt, b"k" * 32, b"v" * 32, 4096, ""]


def case_frames(port: str, public: Sequence[str], after_login: Sequence[str],
                known_names: Sequence[str], scale: int,
                valid_frame: Callable[[str], list[Any]]) -> list[CaseFrames]:
    """The issue's cases that are messages, for one port; ``scale`` bounds the floods' sizes.

    ``valid_frame(method)`` gives well-typed params for a method of this port.
    """
    cases = [CaseFrames("1-long-error-notification", (packed([2, "error", ["A" * 70_000]]),), 8)]
    flood_method = "login_start" if port == "master" else (public[0] if public else "ping")
    flood_params = (["nobody", "n,,n=nobody,r=fuzz"] if port == "master"
                    else valid_frame(flood_method))
    cases.append(CaseFrames("3-notification-flood",
                            (packed([2, flood_method, flood_params]),), min(20_000, scale // 5)))
    cases.append(CaseFrames("3-pipelined-requests",
                            (packed([0, 7, flood_method, flood_params]),), min(5_000, scale // 20)))
    cases.append(CaseFrames("4-error-notification-flood",
                            (packed([2, "error", [{"code": "x", "message": "boom " * 20}]]),),
                            min(10_000, scale // 10)))
    if port == "master":
        names = ["admin\n", "root\n", "a" * 21, "Root", "x\n", "abc\r\n", "abc\x00"]
        cases.append(CaseFrames("8-names-with-newline",
                                tuple(packed([0, i, "register", verifier_params(n)])
                                      for i, n in enumerate(names)), 1))
        salt_text = base64.b64encode(b"s" * 16).decode()
        cases.append(CaseFrames("10-base64-text-for-bytes",
                                (packed([0, 1, "register",
                                         verifier_params("basesixfour", salt_text)]),), 1))
        cases.append(CaseFrames("7-login-start-known-and-unknown",
                                tuple(packed([0, i, "login_start", [n, f"n,,n={n},r=fuzz{i}"]])
                                      for i, n in enumerate([*known_names, "nosuchname"])), 20))
    for method in public:
        kinds = None
        try:
            kinds = valid_frame(method)
        except KeyError:
            continue
        text_params = [base64.b64encode(p).decode() if isinstance(p, bytes) else p for p in kinds]
        if text_params != kinds:
            cases.append(CaseFrames(f"10-base64-text-for-bytes:{method}",
                                    (packed([0, 3, method, text_params]),), 3))
    if "say" in after_login:
        escapes = ["\x1b[2J\x1b[H", "\x1b]0;pwned\x07", "\x1b]52;c;cHduZWQ=\x07",
                   "\r[notice] ADMIN: the server restarts, tell us your password", "\x07\x08\x7f"]
        cases.append(CaseFrames("5-chat-escapes", tuple(packed([2, "say", [t]]) for t in escapes),
                                4, after_login=True))
        cases.append(CaseFrames("5-chat-flood", (packed([2, "say", ["spam spam spam"]]),),
                                min(10_000, scale // 10), after_login=True))
    if "create_character" in after_login:
        names = ["Admin\n", "Gm\n", "A" * 40, "Bob\n"]
        cases.append(CaseFrames("8-character-names-with-newline",
                                tuple(packed([0, i, "create_character", [n]])
                                      for i, n in enumerate(names)), 1, after_login=True))
        letters = "abcdefghijklmnopqrstuvwxyz"
        many = [("Fz" + "".join(letters[(i // 26**k) % 26] for k in range(4))).capitalize()
                for i in range(min(2_000, max(20, scale // 50)))]
        cases.append(CaseFrames("9-many-characters",
                                tuple(packed([0, i, "create_character", [n]])
                                      for i, n in enumerate(many)), 1, after_login=True))
    return cases


def valid_params_for(spec: MethodSpec, rng: random.Random) -> list[Any]:
    """Plausible well-typed params for a method (for floods of a port's public methods)."""
    values = {"str": "fuzz", "bytes": rng.randbytes(32), "int": 1, "float": 1.0, "bool": True,
              "nil": None, "array": [], "map": {}}
    out = []
    for kinds in schema_kinds(spec):
        kind = next((k for k in ("bytes", "str", "int", "float", "bool", "array", "map", "nil")
                     if k in kinds), "nil")
        out.append(values[kind])
    return out

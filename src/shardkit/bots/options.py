"""What ``shardkit bots`` is told: the cluster to load, how many bots, and what they do."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

DEFAULT_PASSWORD = "shardkit bot password"


@dataclass(frozen=True)
class Fence:
    """Where bots keep to: a circle (``radius`` > 0) or a rectangle (``x0, y0, x1, y1``)."""

    x0: float = 0.0
    y0: float = 0.0
    x1: float = 0.0
    y1: float = 0.0
    radius: float = 0.0  # > 0: a circle around (x0, y0)

    def inside(self, x: float, y: float) -> bool:
        if self.radius > 0:
            return math.hypot(x - self.x0, y - self.y0) <= self.radius
        return self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1

    def toward_middle(self, x: float, y: float) -> float:
        """The angle from (x, y) to the fence's middle."""
        if self.radius > 0:
            return math.atan2(self.y0 - y, self.x0 - x)
        return math.atan2((self.y0 + self.y1) / 2 - y, (self.x0 + self.x1) / 2 - x)


def parse_fence(text: str) -> Fence | None:
    """``x,y,r`` (a circle) or ``x0,y0,x1,y1`` (a rectangle); "" for none."""
    if not text:
        return None
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not numbers: {text!r}") from None
    if len(values) == 3 and values[2] > 0:
        return Fence(values[0], values[1], radius=values[2])
    if len(values) == 4 and values[0] < values[2] and values[1] < values[3]:
        return Fence(*values)
    raise argparse.ArgumentTypeError("a fence is x,y,radius or x0,y0,x1,y1")


@dataclass(frozen=True)
class BotOptions:
    host: str = "127.0.0.1"
    port: int = 2002
    world: str = "Atlantis"
    bots: int = 10
    first: int = 1  # account bot<first> is the first bot
    prefix: str = "bot"
    password: str = DEFAULT_PASSWORD
    reuse: bool = False  # the accounts exist: log in without registering
    procs: int = 1
    duration: float = 30.0  # seconds measured once every bot is in (0: until interrupted)
    login_rate: float = 200.0  # bots starting to log in per second (all processes together)
    concurrency: int = 64  # bots logging in at once, per process
    enter_timeout: float = 120.0  # seconds one bot may take to get into its zone
    turn_min: float = 2.0  # a bot walks in one direction this long ...
    turn_max: float = 5.0  # ... to this long, then turns
    stand: bool = False  # do not walk at all
    chat_every: float = 0.0  # seconds between a bot's `say` lines (0: silent)
    attack_every: float = 0.0  # seconds between a bot's attacks on an NPC in view (0: none)
    portals: bool = False  # follow the zone through portals (else a portal is the end)
    fence: Fence | None = None
    settle: float = 2.0  # seconds after the last bot entered before measuring
    json: bool = False  # end with the report as one JSON line

    def names(self) -> list[str]:
        return [account_name(self.prefix, n) for n in range(self.first, self.first + self.bots)]


def account_name(prefix: str, number: int) -> str:
    return f"{prefix}{number:05d}"


def character_name(account: str) -> str:
    """A character name for an account (character names take letters only: digits become a-j)."""
    letters = "".join(chr(ord("a") + int(c)) if c.isdigit() else c for c in account if c.isalnum())
    return (letters[:1].upper() + letters[1:])[:16]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="the master's address")
    p.add_argument("--port", type=int, default=0,
                   help="the master's port (default: from --root's serverconfig, else 2002)")
    p.add_argument("--world", default="Atlantis")
    p.add_argument("--bots", type=int, default=10, help="how many bots (default 10)")
    p.add_argument("--first", type=int, default=1, help="number of the first bot's account")
    p.add_argument("--prefix", default="bot", help="account names: <prefix>00001, ...")
    p.add_argument("--password", default=DEFAULT_PASSWORD,
                   help="the bots' password (accounts are registered, or reused if they exist)")
    p.add_argument("--reuse", action="store_true",
                   help="the accounts exist: only log in (default: register, or log in if taken)")
    p.add_argument("--procs", type=int, default=1, help="processes to spread the bots over")
    p.add_argument("--duration", type=float, default=30.0,
                   help="seconds to measure once every bot is in (0: until Ctrl-C)")
    p.add_argument("--login-rate", dest="login_rate", type=float, default=200.0,
                   help="bots starting to log in per second (default 200)")
    p.add_argument("--concurrency", type=int, default=64,
                   help="bots logging in at once, per process (default 64)")
    p.add_argument("--turn", default="2-5",
                   help="seconds between a bot's turns: MIN-MAX (default 2-5)")
    p.add_argument("--stand", action="store_true", help="bots stand still")
    p.add_argument("--chat-every", dest="chat_every", type=float, default=0.0,
                   help="seconds between a bot's `say` lines (default 0: silent)")
    p.add_argument("--attack-every", dest="attack_every", type=float, default=0.0,
                   help="seconds between a bot's attacks on an NPC it sees (default 0: none)")
    p.add_argument("--portals", action="store_true",
                   help="follow the zone through portals (otherwise a bot moved away stops)")
    p.add_argument("--fence", type=parse_fence, default=None,
                   help="keep to x,y,radius or x0,y0,x1,y1 (turn back toward the middle)")
    p.add_argument("--json", action="store_true", help="end with the report as one JSON line")


def options_from(args: argparse.Namespace, port: int) -> BotOptions:
    low, _, high = str(args.turn).partition("-")
    turn_min = float(low)
    turn_max = float(high or low)
    if not 0 < turn_min <= turn_max:
        raise SystemExit("shardkit bots: --turn is MIN-MAX seconds, 0 < MIN <= MAX")
    if args.bots < 1 or args.procs < 1 or args.concurrency < 1 or args.login_rate <= 0:
        raise SystemExit("shardkit bots: --bots, --procs, --concurrency and --login-rate are > 0")
    return BotOptions(
        host=args.host, port=port, world=args.world, bots=args.bots, first=args.first,
        prefix=args.prefix, password=args.password, reuse=args.reuse,
        procs=min(args.procs, args.bots),
        duration=args.duration, login_rate=args.login_rate, concurrency=args.concurrency,
        turn_min=turn_min, turn_max=turn_max, stand=args.stand, chat_every=args.chat_every,
        attack_every=args.attack_every, portals=args.portals, fence=args.fence, json=args.json)

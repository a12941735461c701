"""``shardkit gmtool``: log in through the master as a game master, then work on the GM port.

The password comes from ``SHARDKIT_GM_PASSWORD``, from ``--password-file`` (its first line),
or (at a terminal) from a prompt that does not echo it; never from the command line, which
other users of the machine can read. Exit codes: 0 done; 1 a command was refused or failed;
2 a command line was wrong; 3 could not log in.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path

from shardkit.client.gm import GMClient
from shardkit.client.gmtool.console import interactive, refusal, run_script
from shardkit.wire.rpc import RpcError

PASSWORD_ENV = "SHARDKIT_GM_PASSWORD"
EXIT_NO_LOGIN = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="the master's address")
    parser.add_argument("--port", type=int, default=2002, help="the master's port")
    parser.add_argument("--user", required=True, help="a gm or admin account")
    parser.add_argument("--password-file", dest="password_file",
                        help=f"read the password from this file (or set {PASSWORD_ENV})")
    parser.add_argument("--exec", dest="exec_lines", action="append", default=[],
                        metavar="COMMAND",
                        help="run this command line and exit (repeat for several; exit code 1"
                             " if the server refuses one)")
    parser.add_argument("--history", default=str(Path.home() / ".shardkit_gmtool_history"),
                        help="where the console keeps its history")


def _password(args: argparse.Namespace) -> str | None:
    if args.password_file:
        lines = Path(args.password_file).read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if sys.stdin.isatty():
        return getpass.getpass(f"password for {args.user}: ")
    return None


async def _work(args: argparse.Namespace, password: str) -> int:
    client = GMClient(args.host, args.port)
    try:
        try:
            await client.login(args.user, password)
        except RpcError as exc:
            print(f"cannot log in as {args.user}: {refusal(exc)}", file=sys.stderr)
            return EXIT_NO_LOGIN
        except OSError as exc:
            print(f"cannot reach the master at {args.host}:{args.port}: {exc}", file=sys.stderr)
            return EXIT_NO_LOGIN
        if args.exec_lines:
            return await run_script(client, args.exec_lines)
        return await interactive(client, Path(args.history))
    finally:
        await client.close()


def run_gm_tool(args: argparse.Namespace) -> int:
    password = _password(args)
    if password is None:
        print(f"no password: set {PASSWORD_ENV}, pass --password-file, or run at a terminal",
              file=sys.stderr)
        return EXIT_NO_LOGIN
    return asyncio.run(_work(args, password))

"""The bridge's side of the master's ``bridge_challenge`` / ``bridge_forward``: before a
browser's first byte reaches the master, the bridge names the browser's address, proving the
key derived from ``master_link`` (see ``master/forwarding.py`` and docs/protocol.md)."""

from __future__ import annotations

import asyncio

import msgpack

from shardkit.master.forwarding import forward_proof
from shardkit.wire.framing import FrameSplitter, MessageTooLarge, StreamError

__all__ = ["ForwardRefused", "forward_address"]

MAX_ANSWER_BYTES = 4096
READ_CHUNK = 4096


class ForwardRefused(ConnectionError):
    """The master did not take the forwarded address (or did not answer as a master)."""


async def forward_address(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          key: bytes, address: str, timeout: float) -> None:
    """Run the two calls on a fresh master connection; raises ForwardRefused."""
    splitter = FrameSplitter(MAX_ANSWER_BYTES + READ_CHUNK)

    async def call(msgid: int, method: str, *params: object) -> object:
        writer.write(msgpack.packb([0, msgid, method, list(params)]))
        while True:
            data = await reader.read(READ_CHUNK)
            if not data:
                raise ForwardRefused("the master closed the connection")
            try:
                frames = splitter.feed(data, MAX_ANSWER_BYTES)
            except (StreamError, MessageTooLarge) as exc:
                raise ForwardRefused(f"the master's answer is not MessagePack: {exc}") from None
            if frames:
                break
        if len(frames) != 1 or splitter.pending_bytes:
            raise ForwardRefused("the master said more than its answer")
        answer = msgpack.unpackb(frames[0], raw=False)
        if not (isinstance(answer, list) and len(answer) == 4 and answer[:2] == [1, msgid]):
            raise ForwardRefused("the master's answer is not a response")
        if answer[2] is not None:
            raise ForwardRefused(f"the master refused the forwarded address: {answer[2]}")
        return answer[3]

    try:
        async with asyncio.timeout(timeout):
            challenge = await call(1, "bridge_challenge")
            nonce = challenge.get("nonce") if isinstance(challenge, dict) else None
            if not isinstance(nonce, bytes):
                raise ForwardRefused("the master sent no nonce")
            await call(2, "bridge_forward", address, forward_proof(key, nonce, address))
    except TimeoutError:
        raise ForwardRefused("the master did not answer in time") from None
    except (OSError, ValueError) as exc:
        raise ForwardRefused(str(exc)) from None

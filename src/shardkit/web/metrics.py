"""The web process's Prometheus metrics: bridge sessions and links, refusals, traffic."""

from __future__ import annotations

from shardkit.runtime.metrics import ProcessMetrics

__all__ = ["REFUSALS", "WebMetrics"]

REFUSALS = ("origin", "full", "rate_limited", "bad_target", "no_session", "not_allowed",
            "unreachable")
KINDS = ("master", "world", "zone", "gm")


class WebMetrics(ProcessMetrics):
    def __init__(self) -> None:
        super().__init__()
        self.links = self.counter("shardkit_web_bridge_links_total",
                                  "Bridge links opened, by kind of target.", ["kind"])
        self.refused = self.counter("shardkit_web_bridge_refused_total",
                                    "WebSockets the bridge refused or closed at once, by reason.",
                                    ["reason"])
        self.closed = self.counter("shardkit_web_bridge_closed_total",
                                   "Bridge links closed, by WebSocket close code.", ["code"])
        self.messages = self.counter("shardkit_web_bridge_messages_total",
                                     "Messages carried, by direction (up: to the cluster).",
                                     ["direction"])
        self.bytes = self.counter("shardkit_web_bridge_bytes_total",
                                  "Bytes of messages carried, by direction.", ["direction"])
        for kind in KINDS:
            self.links.labels(kind)
        for reason in REFUSALS:
            self.refused.labels(reason)
        for direction in ("up", "down"):
            self.messages.labels(direction)
            self.bytes.labels(direction)

"""The master's Prometheus metrics: logins, registrations, tickets, kicks, RPC latency, worlds."""

from __future__ import annotations

from prometheus_client.context_managers import Timer

from shardkit.runtime.metrics import ProcessMetrics

__all__ = ["LOGIN_RESULTS", "TIMED_METHODS", "MasterMetrics"]

TIMED_METHODS = ("register", "login_start", "login_finish", "enter_world")
"""Requests whose latency ``shardkit_master_request_seconds`` shows (``login_*``: the login)."""

LOGIN_RESULTS = ("ok", "auth_failed", "rate_limited", "banned")
"""Login results shown from the start (others appear when they first happen)."""


class MasterMetrics(ProcessMetrics):
    """The master's own counters and histogram; live gauges are added by the server
    (``live_gauge``), which knows the sessions, queues and worlds they read."""

    def __init__(self) -> None:
        super().__init__()
        self.logins = self.counter("shardkit_master_logins_total",
                                   "Login attempts that reached login_finish, by result.",
                                   ["result"])
        self.password_checks = self.counter("shardkit_master_password_checks_total",
                                            "SCRAM proofs checked, by outcome.", ["outcome"])
        self.registrations = self.counter("shardkit_master_registrations_total",
                                          "Register calls, by result.", ["result"])
        self.tickets = self.counter("shardkit_master_world_tickets_total",
                                    "World tickets issued, by how (direct or from the queue).",
                                    ["via"])
        self.kicks = self.counter("shardkit_master_kicks_total", "Accounts kicked, by cause.",
                                  ["cause"])
        self.latency = self.histogram("shardkit_master_request_seconds",
                                      "Time the master spent answering a request, by method"
                                      " (login_start + login_finish: a login).", ["method"])
        for result in LOGIN_RESULTS:
            self.logins.labels(result)
        self.registrations.labels("ok")
        for method in TIMED_METHODS:
            self.latency.labels(method)

    def timer(self, method: str) -> Timer:
        """A context manager observing how long its block takes, as a ``method`` request."""
        return self.latency.labels(method).time()

"""Prometheus metrics, one registry per app (no module-global state, tests stay isolated).

Labels are bounded: routes by their declared name, frame types from the protocol's
fixed list, error codes from :class:`~chat_server.errors.ErrorCode`. Nothing here ever
carries an account, a thread id or a message.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "carechat_http_requests",
            "HTTP requests served",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "carechat_http_request_seconds",
            "HTTP request latency",
            ["route"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.ws_connections = Gauge(
            "carechat_ws_connections", "Open WebSocket connections", registry=r
        )
        self.ws_frames_in = Counter(
            "carechat_ws_frames_in", "WebSocket frames received", ["type"], registry=r
        )
        self.ws_errors = Counter(
            "carechat_ws_errors", "WebSocket error frames and closes", ["code"], registry=r
        )
        self.ws_slow_disconnects = Counter(
            "carechat_ws_slow_disconnects",
            "Sockets closed because their send queue was full",
            registry=r,
        )
        self.messages_stored = Counter(
            "carechat_messages_stored", "Messages durably stored", registry=r
        )
        self.fanout_published = Counter(
            "carechat_fanout_published", "Fan-out events published", ["broker"], registry=r
        )
        self.fanout_received = Counter(
            "carechat_fanout_received",
            "Fan-out events received from other processes",
            registry=r,
        )
        self.jobs_run = Counter(
            "carechat_jobs_run", "Background job runs", ["kind", "outcome"], registry=r
        )

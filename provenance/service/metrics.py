"""`/metrics` in the Prometheus text format (the `prometheus-client` package).

Per worker process: with several workers each answers for itself (scrape each, or put
the workers behind one address and sum; the `worker` label is the process id).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = {"worker": str(os.getpid())}
        self.appends = Counter(
            "provenance_appends",
            "Entries appended (new, not duplicates)",
            ["worker"],
            registry=self.registry,
        ).labels(**labels)
        self.duplicates = Counter(
            "provenance_duplicates",
            "Submissions answered with an entry already in the ledger",
            ["worker"],
            registry=self.registry,
        ).labels(**labels)
        self.batch_size = Histogram(
            "provenance_batch_size",
            "Envelopes appended per transaction",
            ["worker"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        ).labels(**labels)
        self.batch_seconds = Histogram(
            "provenance_batch_seconds",
            "Time to append one batch (transaction and receipts)",
            ["worker"],
            registry=self.registry,
        ).labels(**labels)
        self._latency = Histogram(
            "provenance_request_seconds",
            "Request latency by route",
            ["worker", "route"],
            registry=self.registry,
        )
        self._refusals = Counter(
            "provenance_refusals",
            "Requests refused, by reason (the problem type)",
            ["worker", "reason"],
            registry=self.registry,
        )
        self.tree_size = Gauge(
            "provenance_tree_size",
            "Size of the latest checkpoint this worker has seen",
            ["worker"],
            registry=self.registry,
        ).labels(**labels)
        self._worker = labels["worker"]

    def latency(self, route: str, seconds: float) -> None:
        self._latency.labels(worker=self._worker, route=route).observe(seconds)

    def refused(self, reason: str) -> None:
        self._refusals.labels(worker=self._worker, reason=reason).inc()

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)

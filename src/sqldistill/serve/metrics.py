"""The server's Prometheus metrics, kept in a ``prometheus_client`` registry of their own.

Each ``Metrics`` owns a ``CollectorRegistry`` instead of using the library's global one, so that several
services in one process (tests, a bench comparing two servers) count separately and never clash on a name.
Families are declared once with their label names; the callers pass labels by keyword.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# the classic text format, which ``generate_latest`` writes for every name this module declares
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)

_KINDS = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}


class Metrics:
    """Counters, gauges and histograms of one service, named ``<prefix>_<name>``; thread-safe (the library locks)."""

    def __init__(self, prefix: str = "sqldistill") -> None:
        self.prefix = prefix
        self.registry = CollectorRegistry()
        self._families: dict[str, Any] = {}

    def describe(self, name: str, kind: str, text: str, labels: tuple[str, ...] = (),
                 buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        """Declare a family; label names are sorted so every series prints its labels in one order."""
        extra: dict[str, Any] = {"buckets": buckets} if kind == "histogram" else {}
        self._families[name] = _KINDS[kind](f"{self.prefix}_{name}", text, sorted(labels), registry=self.registry,
                                            **extra)

    def _series(self, name: str, labels: dict[str, str]) -> Any:
        family = self._families[name]
        return family.labels(**labels) if labels else family

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self._series(name, labels).inc(amount)

    def set(self, name: str, value: float, **labels: str) -> None:
        self._series(name, labels).set(value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        self._series(name, labels).observe(value)

    def counter_value(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(f"{self.prefix}_{name}", labels)
        return 0.0 if value is None else float(value)

    def render(self) -> str:
        """The whole registry in the Prometheus text format; labelled families show once they have a series."""
        return generate_latest(self.registry).decode()


def server_metrics() -> Metrics:
    """The registry the HTTP server exports at ``/metrics``."""
    m = Metrics()
    m.describe("requests_total", "counter", "HTTP requests by endpoint and status code.", ("endpoint", "status"))
    m.describe("errors_total", "counter", "Failed answers by endpoint and kind (refused, timeout, error, generation, "
               "auth, invalid).", ("endpoint", "kind"))
    m.describe("request_latency_seconds", "histogram", "Time to answer an HTTP request, by endpoint.", ("endpoint",))
    m.describe("generation_latency_seconds", "histogram", "Time of one model call: one decoding step with continuous batching.")
    m.describe("batch_size", "histogram", "Questions decoded together in one model call (step).", buckets=BATCH_BUCKETS)
    m.describe("draft_tokens_total", "counter", "Tokens guessed ahead by speculative decoding steps.")
    m.describe("draft_accepted_total", "counter", "Guessed tokens the model agreed with (kept without a step of their own).")
    m.describe("feedback_total", "counter", "Corrections received, by whether they were stored.", ("stored",))
    m.describe("schema_drift", "gauge", "1 when the live database no longer matches the model's schema.")
    m.describe("model_info", "gauge", "The served model (always 1; labels carry the details).",
               ("model", "db_id", "fingerprint", "method"))
    return m


__all__ = ["CONTENT_TYPE", "Metrics", "server_metrics"]

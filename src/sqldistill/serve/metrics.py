"""Prometheus metrics in the text exposition format (version 0.0.4), without a client library.

Only counters, one gauge family and histograms are needed; writing them out is a few lines, and keeping the
dependency list short matters more for an offline install than a library's extra features.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    items = (*labels, *extra)
    if not items:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in items) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Metrics:
    """Thread-safe counters, gauges and histograms keyed by name and labels."""

    def __init__(self, prefix: str = "sqldistill") -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._help: dict[str, tuple[str, str]] = {}  # name -> (type, help)
        self._counters: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._gauges: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._hists: dict[str, dict[Labels, list[float]]] = defaultdict(dict)  # bucket counts + [sum, count]
        self._buckets: dict[str, tuple[float, ...]] = {}

    def describe(self, name: str, kind: str, text: str, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self._help[name] = (kind, text)
        if kind == "histogram":
            self._buckets[name] = buckets

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._counters[name]
            series[key] = series.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._gauges[name][key] = value

    def observe(self, name: str, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        buckets = self._buckets.get(name, LATENCY_BUCKETS)
        with self._lock:
            series = self._hists[name].get(key)
            if series is None:
                series = [0.0] * (len(buckets) + 2)
                self._hists[name][key] = series
            for i, bound in enumerate(buckets):
                if value <= bound:
                    series[i] += 1
            series[-2] += value
            series[-1] += 1

    def counter_value(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._counters[name].get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> str:
        """The whole registry in Prometheus text format; every family is announced even before its first sample."""
        out: list[str] = []
        with self._lock:
            for name, (kind, text) in sorted(self._help.items()):
                full = f"{self.prefix}_{name}"
                out.append(f"# HELP {full} {text}")
                out.append(f"# TYPE {full} {kind}")
                if kind == "counter":
                    for key, value in sorted(self._counters[name].items()):
                        out.append(f"{full}{_labels(key)} {_number(value)}")
                elif kind == "gauge":
                    for key, value in sorted(self._gauges[name].items()):
                        out.append(f"{full}{_labels(key)} {_number(value)}")
                else:
                    buckets = self._buckets[name]
                    for key, series in sorted(self._hists[name].items()):
                        for i, bound in enumerate(buckets):
                            out.append(f"{full}_bucket{_labels(key, (('le', _number(bound)),))} {_number(series[i])}")
                        out.append(f"{full}_bucket{_labels(key, (('le', '+Inf'),))} {_number(series[-1])}")
                        out.append(f"{full}_sum{_labels(key)} {_number(series[-2])}")
                        out.append(f"{full}_count{_labels(key)} {_number(series[-1])}")
        return "\n".join(out) + "\n"


def server_metrics() -> Metrics:
    """The registry the HTTP server exports at ``/metrics``."""
    m = Metrics()
    m.describe("requests_total", "counter", "HTTP requests by endpoint and status code.")
    m.describe("errors_total", "counter", "Failed answers by endpoint and kind (refused, timeout, error, generation, "
               "auth, invalid).")
    m.describe("request_latency_seconds", "histogram", "Time to answer an HTTP request, by endpoint.")
    m.describe("generation_latency_seconds", "histogram", "Time of one model call: one decoding step with continuous batching.")
    m.describe("batch_size", "histogram", "Questions decoded together in one model call (step).", BATCH_BUCKETS)
    m.describe("draft_tokens_total", "counter", "Tokens guessed ahead by speculative decoding steps.")
    m.describe("draft_accepted_total", "counter", "Guessed tokens the model agreed with (kept without a step of their own).")
    m.describe("feedback_total", "counter", "Corrections received, by whether they were stored.")
    m.describe("schema_drift", "gauge", "1 when the live database no longer matches the model's schema.")
    m.describe("model_info", "gauge", "The served model (always 1; labels carry the details).")
    return m


__all__ = ["CONTENT_TYPE", "Metrics", "server_metrics"]

"""The run's ``metrics.json``: what every stage measured, gathered into one document for the report.

``collect_metrics`` reads the finished stages' results (``data.manifest.StageResult``: each stage's own
metrics and timings) and returns the document ``html_report.render_report`` draws and ``summary_rows``
prints: the data funnel per critic, the hardness mix, training curves, EX/EM per model, sizes and latency.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqldistill.data.manifest import StageResult


def collect_metrics(database: str, results: Mapping[str, StageResult]) -> dict[str, Any]:
    """The report document of a run on ``database`` from its stage results (profile and synth at least)."""
    prof = results["profile"].metrics
    synth = results["synth"].metrics
    stats = synth.get("stats", {})
    doc: dict[str, Any] = {
        "database": display_target(database),
        "db_id": prof.get("db_id"),
        "fingerprint": prof.get("fingerprint"),
        "seconds": sum(r.manifest.get("seconds", 0) for r in results.values()),
        "stages": {n: r.manifest.get("seconds") for n, r in results.items()},
        "data": {
            "train": synth.get("train"),
            "valid": synth.get("valid"),
            "funnel": funnel_from_stats(stats),
            "hardness": hardness_mix(stats),
            "sources": stats.get("sources", {}),
        },
        "training": {},
        "models": {},
        "eval": {},
    }
    for name in ("teacher", "student"):
        if name in results:
            tr = results[name].metrics
            doc["training"][name] = {k: tr.get(k) for k in ("loss", "steps", "seconds", "final_loss")}
            doc["models"][name] = {"params": tr.get("params")}
            if tr.get("rounds"):
                doc["rounds"] = [{"round": r.get("round", i), "ex": r.get("ex", r.get("ex_greedy", 0.0))}
                                 for i, r in enumerate(tr["rounds"])]
    ev = results["evaluate"].metrics if "evaluate" in results else {}
    for name, res in ev.items():
        main = res.get("human") or res.get("valid") or {}
        greedy = main.get("greedy") or {}
        doc["eval"][name] = {"ex": main.get("ex", {}), "em": main.get("em", {}), "count": main.get("count", {}),
                             "ex_valid": (res.get("valid") or {}).get("ex", {}).get("all"),
                             "ex_human": (res.get("human") or {}).get("ex", {}).get("all"),
                             "decoding": res.get("decoding"),
                             "latency_ms_p50": main.get("latency_ms_p50", res.get("latency_ms_p50")),
                             "greedy": {"ex": greedy.get("ex", {}), "latency_ms_p50": greedy.get("latency_ms_p50")}
                             if greedy else None}
        doc["models"].setdefault(name, {})["latency_ms_p50"] = doc["eval"][name]["latency_ms_p50"]
        doc["models"][name]["params"] = res.get("params") or doc["models"][name].get("params")
    return doc


def funnel_from_stats(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """(critic, dropped, kept-after) rows in critic order, from synthesize()'s stats."""
    critics = stats.get("critics", {})
    rows = []
    remaining = stats.get("candidates")
    for name, c in critics.items() if isinstance(critics, dict) else []:
        checked = c.get("checked", remaining or 0)
        dropped = c.get("dropped", 0)
        remaining = checked - dropped
        rows.append({"critic": name, "checked": checked, "dropped": dropped, "kept": remaining})
    return rows


def hardness_mix(stats: dict[str, Any]) -> dict[str, int]:
    """Kept training pairs per hardness level, from synthesize()'s stats."""
    mix = stats.get("hardness") or {}
    if isinstance(mix, dict):
        return {k: (v.get("kept", v) if isinstance(v, dict) else v) for k, v in mix.items()}
    return {}


def display_target(target: str) -> str:
    """The database as the report shows it (credentials left out), or as given when it does not parse."""
    from sqldistill.db.targets import parse_target

    try:
        return parse_target(target).display
    except Exception:
        return target


__all__ = ["collect_metrics", "display_target", "funnel_from_stats", "hardness_mix"]

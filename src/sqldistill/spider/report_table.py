"""The per-hardness score table, aggregated and printed the way the official evaluator does.

Aggregation rules (``evaluation.py``): per level, EX, TS and EM are means over the level's examples; a
component's partial ``acc`` is averaged over examples whose prediction has that component, ``rec`` over
examples whose gold has it, and ``f1`` is recomputed from those two means (1 when both are 0). An example
whose gold query the Spider parser cannot read has no hardness and counts in ``all`` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqldistill.spider.exact_match import PARTIAL_TYPES

LEVELS = ("easy", "medium", "hard", "extra", "all")


def _empty_level() -> dict[str, Any]:
    return {
        "count": 0, "exec": 0.0, "exact": 0.0, "ts": 0.0,
        "partial": {t: {"acc": 0.0, "rec": 0.0, "f1": 0.0, "acc_count": 0, "rec_count": 0} for t in PARTIAL_TYPES},
    }  # fmt: skip


def aggregate(examples: Iterable[Mapping[str, Any]], levels: Sequence[str] = LEVELS) -> dict[str, dict[str, Any]]:
    """Scores per level from per-example dicts with ``hardness``, ``exec``, ``exact``, ``ts``, ``partial``.

    Metrics that are ``None`` for an example (not computed) add nothing.
    """
    scores = {level: _empty_level() for level in levels}
    for ex in examples:
        level = ex.get("hardness")
        names = [level, "all"] if isinstance(level, str) and level in scores and level != "all" else ["all"]
        for name in names:
            cell = scores[name]
            cell["count"] += 1
            for metric in ("exec", "exact", "ts"):
                if ex.get(metric) is not None:
                    cell[metric] += ex[metric]
            partial = ex.get("partial")
            if not partial:
                continue
            for kind in PARTIAL_TYPES:
                part, score = cell["partial"][kind], partial[kind]
                if score["pred_total"] > 0:
                    part["acc"] += score["acc"]
                    part["acc_count"] += 1
                if score["label_total"] > 0:
                    part["rec"] += score["rec"]
                    part["rec_count"] += 1
    for cell in scores.values():
        if cell["count"] == 0:
            continue
        for metric in ("exec", "exact", "ts"):
            cell[metric] /= cell["count"]
        for part in cell["partial"].values():
            part["acc"] = part["acc"] / part["acc_count"] if part["acc_count"] else 0
            part["rec"] = part["rec"] / part["rec_count"] if part["rec_count"] else 0
            total = part["acc"] + part["rec"]
            part["f1"] = 1 if part["acc"] == 0 and part["rec"] == 0 else 2.0 * part["acc"] * part["rec"] / total
    return scores


def _row(name: str, values: Sequence[Any], fmt: str) -> str:
    return ("{:20} " + " ".join([fmt] * len(values))).format(name, *values)


def format_table(scores: Mapping[str, Mapping[str, Any]], etype: str, testsuite: bool = False,
                 levels: Sequence[str] = LEVELS) -> str:
    """The official printout (``print_scores``), plus a test-suite row when a suite was used."""
    lines = [_row("", list(levels), "{:20}"), _row("count", [scores[lv]["count"] for lv in levels], "{:<20d}")]
    if etype in ("all", "exec"):
        lines.append("=====================   EXECUTION ACCURACY     =====================")
        lines.append(_row("execution", [scores[lv]["exec"] for lv in levels], "{:<20.3f}"))
        if testsuite:
            lines.append(_row("test suite", [scores[lv]["ts"] for lv in levels], "{:<20.3f}"))
    if etype in ("all", "match"):
        lines += ["", "====================== EXACT MATCHING ACCURACY ====================="]
        lines.append(_row("exact match", [scores[lv]["exact"] for lv in levels], "{:<20.3f}"))
        headers = {
            "acc": "\n---------------------PARTIAL MATCHING ACCURACY----------------------",
            "rec": "---------------------- PARTIAL MATCHING RECALL ----------------------",
            "f1": "---------------------- PARTIAL MATCHING F1 --------------------------",
        }
        for metric, header in headers.items():
            lines.append(header)
            lines += [_row(kind, [scores[lv]["partial"][kind][metric] for lv in levels], "{:<20.3f}")
                      for kind in PARTIAL_TYPES]
    return "\n".join(lines) + "\n"


__all__ = ["LEVELS", "aggregate", "format_table"]

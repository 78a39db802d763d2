"""The run report: a self-contained HTML page (plots inlined as PNG) built from ``metrics.json``.

Sections: the data funnel per critic, the hardness mix of the data, training loss, EX by hardness for
teacher and student, EX per recursive round, model size and latency of teacher vs student.
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

LEVELS = ["easy", "medium", "hard", "extra", "all"]


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _figure(width: float = 6.0, height: float = 3.2, ncols: int = 1) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width, height))


def plot_funnel(funnel: list[dict[str, Any]]) -> str | None:
    if not funnel:
        return None
    fig, ax = _figure(6.5, 0.45 * len(funnel) + 1)
    names = [f["critic"] for f in funnel]
    dropped = [f.get("dropped", 0) for f in funnel]
    kept = [f.get("kept", 0) for f in funnel]
    ax.barh(names, kept, color="#4c8bf5", label="kept after this critic")
    ax.barh(names, dropped, left=kept, color="#f08a5d", label="dropped here")
    ax.invert_yaxis()
    ax.set_xlabel("candidate pairs")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Data funnel per critic")
    return _png(fig)


def plot_hardness(mix: dict[str, int]) -> str | None:
    if not mix:
        return None
    fig, ax = _figure(4.5, 2.8)
    levels = [lv for lv in LEVELS[:-1] if lv in mix] + [k for k in mix if k not in LEVELS]
    ax.bar(levels, [mix[lv] for lv in levels], color="#6ab187")
    ax.set_ylabel("training pairs")
    ax.set_title("Hardness mix of the training data")
    return _png(fig)


def plot_losses(curves: dict[str, list[list[float]]]) -> str | None:
    curves = {k: v for k, v in curves.items() if v}
    if not curves:
        return None
    fig, ax = _figure()
    for name, points in curves.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("Training loss")
    return _png(fig)


def plot_ex_by_hardness(models: dict[str, dict[str, float]]) -> str | None:
    models = {k: v for k, v in models.items() if v}
    if not models:
        return None
    fig, ax = _figure()
    width = 0.8 / len(models)
    for i, (name, ex) in enumerate(models.items()):
        xs = [j + i * width for j in range(len(LEVELS))]
        ax.bar(xs, [100 * ex.get(lv, 0.0) for lv in LEVELS], width=width, label=name)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(LEVELS))], LEVELS)
    ax.set_ylabel("execution accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.set_title("EX by hardness")
    return _png(fig)


def plot_rounds(rounds: list[dict[str, Any]]) -> str | None:
    if not rounds:
        return None
    fig, ax = _figure(4.5, 2.8)
    ax.plot([r["round"] for r in rounds], [100 * r["ex"] for r in rounds], marker="o")
    ax.set_xlabel("round")
    ax.set_ylabel("EX (%)")
    ax.set_title("EX per recursive-distillation round")
    return _png(fig)


def plot_size_latency(models: dict[str, dict[str, Any]]) -> str | None:
    models = {k: v for k, v in models.items() if v.get("params")}
    if not models:
        return None
    fig, (a1, a2) = _figure(7.0, 2.8, ncols=2)
    names = list(models)
    a1.bar(names, [models[n]["params"] / 1e6 for n in names], color="#9b59b6")
    a1.set_ylabel("parameters (M)")
    a1.set_title("Model size")
    a2.bar(names, [models[n].get("latency_ms_p50", 0.0) for n in names], color="#e67e22")
    a2.set_ylabel("ms per question (p50)")
    a2.set_title("Latency")
    fig.tight_layout()
    return _png(fig)


def _table(rows: list[list[Any]], head: list[str]) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f} ms"


def decoding_label(decoding: dict[str, Any] | None) -> str:
    """How a model answered: greedy, or execution-guided with its candidates."""
    if not decoding or not decoding.get("execution_guided"):
        return "greedy"
    return f"guided (beam {decoding.get('num_candidates')}, mem {decoding.get('memory_k')})"


def summary_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """Rows for the end-of-run table: model, params, the decoding the model answers with, its EX on the human
    questions and its p50 latency per question, the same two for greedy decoding (when the main decoding is not
    greedy), and EX on held-out synthetic pairs."""
    rows = []
    for name, ev in metrics.get("eval", {}).items():
        model = metrics.get("models", {}).get(name, {})
        greedy = ev.get("greedy") or {}
        rows.append([
            name,
            f"{model.get('params', 0) / 1e6:.2f}M" if model.get("params") else "-",
            decoding_label(ev.get("decoding")),
            _pct(ev.get("ex", {}).get("all")),
            _ms(ev.get("latency_ms_p50")),
            _pct((greedy.get("ex") or {}).get("all")) if greedy else "-",
            _ms(greedy.get("latency_ms_p50")) if greedy else "-",
            _pct(ev.get("ex_valid")),
        ])
    return rows


SUMMARY_HEAD = ["model", "params", "decoding", "EX (human)", "p50 latency", "greedy EX", "greedy p50",
                "EX (synthetic)"]


def render_report(metrics: dict[str, Any]) -> str:
    data = metrics.get("data", {})
    ev = metrics.get("eval", {})
    plots = [
        ("Data funnel", plot_funnel(data.get("funnel", []))),
        ("Hardness mix", plot_hardness(data.get("hardness", {}))),
        ("Training loss", plot_losses({k: v.get("loss", []) for k, v in metrics.get("training", {}).items()})),
        ("EX by hardness", plot_ex_by_hardness({k: v.get("ex", {}) for k, v in ev.items()})),
        ("EX per round", plot_rounds(metrics.get("rounds", []))),
        ("Size and latency", plot_size_latency(metrics.get("models", {}))),
    ]
    figures = "".join(
        f'<figure><img alt="{html.escape(t)}" src="{src}"><figcaption>{html.escape(t)}</figcaption></figure>'
        for t, src in plots if src
    )
    per_level = [[name, *[("-" if v.get("ex", {}).get(lv) is None else f"{100 * v['ex'][lv]:.1f}")
                          for lv in LEVELS], v.get("count", {}).get("all", "")] for name, v in ev.items()]
    title = f"sqldistill report: {metrics.get('db_id', '')}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}
th{{background:#f3f3f3}}td:first-child,th:first-child{{text-align:left}}
figure{{display:inline-block;margin:.5em;vertical-align:top}}img{{max-width:100%}}
code{{background:#f5f5f5;padding:0 .2em}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Database <code>{html.escape(str(metrics.get('database', '')))}</code>, schema fingerprint
<code>{html.escape(str(metrics.get('fingerprint', '')))}</code>; {data.get('train', 0)} training pairs,
{data.get('valid', 0)} held-out synthetic pairs; run took {metrics.get('seconds', 0):.0f} s.</p>
<h2>Summary</h2>
{_table(summary_rows(metrics), SUMMARY_HEAD)}
<h2>Execution accuracy by hardness (%)</h2>
{_table(per_level, ["model", *LEVELS, "questions"])}
<h2>Plots</h2>
{figures}
<h2>Metrics</h2>
<details><summary>metrics.json</summary><pre>{html.escape(json.dumps(metrics, indent=2, default=str))}</pre></details>
</body></html>
"""

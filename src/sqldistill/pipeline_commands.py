"""``sqldistill init`` and ``sqldistill distill``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click

PRESETS = ("default", "real", "gpu")


def preset_text(preset: str, database: str, run_dir: str, questions: str | None) -> str:
    """A shipped config with its placeholders filled in."""
    template = resources.files("sqldistill").joinpath("configs").joinpath(f"{preset}.yaml").read_text()
    return template.format(database=database, run_dir=run_dir, questions=questions or "null")


@click.command("init")
@click.argument("target")
@click.option("--preset", type=click.Choice(PRESETS), default="default", show_default=True,
              help="default: CPU, no LLM; real: OpenAI-compatible teacher + pretrained models; gpu: accelerate.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default="sqldistill.yaml", show_default=True,
              help="Where to write the config.")
@click.option("--questions", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Human questions (Spider dev.json format) to measure the student on.")
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
def init_cmd(target: str, preset: str, out_path: str, questions: str | None, force: bool) -> None:
    """Write a commented config for TARGET (a SQLite path or SQLAlchemy URL)."""
    from sqldistill.config import load_config
    from sqldistill.db.targets import parse_target
    from sqldistill.errors import ConfigError

    tgt = parse_target(target)  # fail now on a bad target, not at the first stage
    out = Path(out_path)
    if out.exists() and not force:
        raise ConfigError(f"{out} already exists", hint="Pass --force to overwrite it, or --out another path")
    base = out.resolve().parent

    def rel(p: str) -> str:
        path = Path(p).resolve()
        try:
            return str(path.relative_to(base))
        except ValueError:
            return str(path)

    database = rel(tgt.location) if tgt.dialect in ("sqlite", "duckdb") and "://" not in target else target
    text = preset_text(preset, database=database, run_dir=rel(str(Path("runs") / tgt.db_id)),
                       questions=rel(questions) if questions else None)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    if preset == "default":
        load_config(out)  # what we write must load
    click.echo(f"wrote {out} ({preset}); run it with: sqldistill distill {out}")


@click.command("distill")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--run-dir", type=click.Path(file_okay=False), default=None, help="Override the config's run_dir.")
@click.option("--quiet", is_flag=True, help="Print only the summary.")
def distill_cmd(config: str, run_dir: str | None, quiet: bool) -> None:
    """Run the whole pipeline in CONFIG: profile, synthesize, critics, teacher, student, evaluate, report.

    Rerunning the same command resumes: finished stages are skipped, an interrupted one is redone.
    """
    from sqldistill._extras import require_extra

    require_extra("train", "sqldistill distill")  # one line now, not an ImportError from inside a stage
    import time

    from rich.console import Console
    from rich.table import Table

    from sqldistill.config import load_config
    from sqldistill.eval.html_report import SUMMARY_HEAD, summary_rows
    from sqldistill.pipeline import distill

    console = Console(stderr=True)
    cfg = load_config(config)
    if run_dir:
        cfg = cfg.model_copy(update={"run_dir": Path(run_dir)})
    started = time.perf_counter()

    def progress(msg: str) -> None:
        if not quiet:
            console.print(f"[dim]{time.perf_counter() - started:6.1f}s[/] {msg}")

    state = distill(cfg, progress=progress)
    report_dir = state.results["report"].path
    import json

    metrics = json.loads((report_dir / "metrics.json").read_text())
    table = Table(*SUMMARY_HEAD, title=f"sqldistill: {metrics.get('db_id')}")
    for row in summary_rows(metrics):
        table.add_row(*row)
    out = Console(width=None if Console().is_terminal else 120)
    out.print(table)
    out.print(f"training pairs: {metrics['data'].get('train')} · report: {report_dir / 'report.html'} · "
              f"metrics: {report_dir / 'metrics.json'} · {time.perf_counter() - started:.0f} s")

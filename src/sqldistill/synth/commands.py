"""``sqldistill synth``: synthesize and filter question/SQL pairs for one database."""

from __future__ import annotations

from typing import Any

import click


@click.command("synth")
@click.argument("target")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for train.jsonl, valid.jsonl, rejects.jsonl and stats.json.")
@click.option("--n", default=2000, show_default=True, type=click.IntRange(min=1),
              help="Pairs to keep from feedback, the query log and the templates.")
@click.option("--seed", default=0, show_default=True, help="Same seed, same files.")
@click.option("--teacher", default=None, help="An OpenAI-compatible base URL (http://host/v1) or a local model folder.")
@click.option("--teacher-model", default=None, help="Model name at the teacher URL.")
@click.option("--teacher-key-env", default="OPENAI_API_KEY", show_default=True,
              help="Environment variable holding the teacher's API key.")
@click.option("--teacher-concurrency", default=4, show_default=True, type=click.IntRange(min=1))
@click.option("--teacher-cache", default=None, type=click.Path(file_okay=False),
              help="Cache of teacher answers [default: OUT/teacher_cache].")
@click.option("--teacher-pairs", default=None, type=click.IntRange(min=0),
              help="New pairs the teacher writes [default: n/10 with a teacher].")
@click.option("--paraphrases", default=None, type=click.FloatRange(min=0),
              help="Teacher paraphrases per template question [default: 0.5 with a teacher].")
@click.option("--vote", default=0, show_default=True, type=click.IntRange(min=0, max=15),
              help="Keep pairs only when the majority of this many teacher SQLs agrees (0: off).")
@click.option("--log", "log_path", default=None, type=click.Path(dir_okay=False),
              help="A query log to mine: one SQL per line, or SQL<TAB>db_id.")
@click.option("--from-feedback", "feedback", default=None, type=click.Path(dir_okay=False),
              help="A feedback.jsonl of user corrections (from `sqldistill serve`).")
@click.option("--critic", "critics", multiple=True,
              help="Add an optional critic: teacher_vote, distinguishable, round_trip.")
@click.option("--testsuite", multiple=True, help="A test-suite database for the distinguishable critic.")
@click.option("--valid-fraction", default=0.1, show_default=True, type=click.FloatRange(0, 0.9))
@click.option("--prompt-schema", default="none", show_default=True,
              type=click.Choice(["none", "compact", "create"]), help="Schema inside the training prompt.")
@click.option("--template-cap", default=None, type=click.IntRange(min=1),
              help="Most pairs per SQL template [default: max(6, n/100)].")
@click.option("--timeout", "timeout_s", default=2.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds a candidate may run.")
@click.option("--sources", default="", help="Source mix as name=share: corpus, templates, log, teacher "
              "[default: corpus=0.8,templates=0.2,log=0.3,teacher=0.1].")
@click.option("--corpus", default=None, type=click.Path(dir_okay=False),
              help="A corpus of learned shapes other than the shipped one (scripts/build_synth_corpus.py).")
@click.option("--quiet", is_flag=True, help="No progress bar and no summary.")
def synth_cmd(target: str, out_dir: str, n: int, seed: int, teacher: str | None, teacher_model: str | None,
              teacher_key_env: str, teacher_concurrency: int, teacher_cache: str | None, teacher_pairs: int | None,
              paraphrases: float | None, vote: int, log_path: str | None, feedback: str | None,
              critics: tuple[str, ...], testsuite: tuple[str, ...], valid_fraction: float, prompt_schema: str,
              template_cap: int | None, timeout_s: float, sources: str, corpus: str | None, quiet: bool) -> None:
    """Synthesize validated question/SQL pairs for TARGET (a SQLite path or SQLAlchemy URL) into --out."""
    from pathlib import Path

    from sqldistill.data.prompt import PromptFormat
    from sqldistill.synth.synthesis import SynthOptions, parse_sources, synthesize
    from sqldistill.synth.teacher import make_teacher

    mix = parse_sources(sources)
    client = None
    if teacher:
        cache = teacher_cache or str(Path(out_dir) / "teacher_cache")
        client = make_teacher(teacher, model=teacher_model, api_key_env=teacher_key_env, cache_dir=cache,
                              concurrency=teacher_concurrency)
    try:
        stats = synthesize(target, out_dir, SynthOptions(
            n=n, seed=seed, teacher=client, log=log_path, feedback=feedback, teacher_pairs=teacher_pairs,
            paraphrases=paraphrases, vote=vote, critics=critics, testsuite=testsuite, valid_fraction=valid_fraction,
            prompt_format=PromptFormat(schema_style=prompt_schema), template_cap=template_cap, timeout_s=timeout_s,
            sources=mix, corpus=corpus, progress=not quiet))
    finally:
        if client is not None:
            client.close()
    if not quiet:
        _summary(stats, out_dir)


def _summary(stats: dict[str, Any], out_dir: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    grid = Table(title=f"{stats['db_id']}: {stats['kept']} pairs kept of {stats['requested']} asked", title_justify="left")
    grid.add_column("critic")
    grid.add_column("checked", justify="right")
    grid.add_column("dropped", justify="right")
    for name, row in stats["critics"].items():
        grid.add_row(name, str(row["checked"]), str(row["dropped"]))
    console.print(grid)
    mix = ", ".join(f"{k} {v}" for k, v in stats["hardness"].items())
    sources = ", ".join(f"{k} {v['kept']}/{v['candidates']}" for k, v in stats["sources"].items())
    console.print(f"hardness: {mix}\nsources (kept/candidates): {sources}\n"
                  f"train {stats['train']}, valid {stats['valid']}, rejects {stats['rejects']} -> {out_dir}")


__all__ = ["synth_cmd"]

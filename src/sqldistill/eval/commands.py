"""``sqldistill eval`` and ``sqldistill testsuite build``: thin wrappers over ``evaluate`` and
``build_testsuite``. Heavy imports stay inside the command bodies so that ``--help`` is instant."""

from __future__ import annotations

import json
from typing import Any

import click


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _progress(label: str) -> tuple[Any, Any]:
    """A transient rich bar on stderr, or nothing when stderr is not a terminal (logs stay clean)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return _NoBar(), None
    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True,
                   console=console)
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


@click.command("eval")
@click.option("--gold", required=True, type=click.Path(), help="Gold file: Spider/BIRD JSON, JSONL, or SQL<TAB>db_id lines.")
@click.option("--pred", required=True, type=click.Path(), help="Predictions: one SQL per line, or JSON/JSONL with 'sql'.")
@click.option("--db-dir", required=True, type=click.Path(), help="Folder with <db_id>/<db_id>.sqlite databases.")
@click.option("--tables", type=click.Path(), default=None,
              help="Spider tables.json for exact match (default: DB_DIR/../tables.json if present).")
@click.option("--etype", type=click.Choice(["all", "exec", "match"]), default="all", show_default=True)
@click.option("--out", type=click.Path(), default=None, help="Write one JSON line per example here.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON instead of the table.")
@click.option("--workers", type=int, default=None, help="Worker processes (default: CPU count; 1 = no pool).")
@click.option("--timeout", "timeout_s", type=float, default=30.0, show_default=True,
              help="Seconds before a query is stopped (and counted wrong).")
@click.option("--testsuite", type=click.Path(), default=None,
              help="Test-suite folder (<db_id>/*.sqlite) for test-suite accuracy.")
@click.option("--keep-distinct", is_flag=True, help="Keep DISTINCT when executing (the official default drops it).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the gold-result cache.")
@click.option("--cache-dir", type=click.Path(), default=None, help="Gold-result cache folder.")
def eval_cmd(gold: str, pred: str, db_dir: str, tables: str | None, etype: str, out: str | None, as_json: bool,
             workers: int | None, timeout_s: float, testsuite: str | None, keep_distinct: bool, no_cache: bool,
             cache_dir: str | None) -> None:
    """Score predictions: execution accuracy, exact-set match and test-suite accuracy per hardness."""
    from sqldistill.errors import DataError
    from sqldistill.eval.scoring import evaluate

    if workers is not None and workers < 1:
        raise DataError("--workers must be 1 or more", hint="Use 1 to run in one process")
    if timeout_s <= 0:
        raise DataError("--timeout must be positive", hint="Give the seconds a query may run, e.g. 30")
    bar, update = _progress("evaluating")
    with bar:
        report = evaluate(gold, pred, db_dir, tables=tables, etype=etype, workers=workers, timeout_s=timeout_s,
                          testsuite=testsuite, keep_distinct=keep_distinct,
                          cache_dir=False if no_cache else (cache_dir or True), progress=update)
    if out:
        report.write_jsonl(out)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(report.table(), nl=False)
    click.echo(f"\n{len(report.examples)} examples in {report.seconds:.2f} s with {report.workers} worker(s); "
               f"gold cache {report.cache_hits} hits, {report.cache_misses} misses"
               + (f"; exact-match foreign keys from {report.tables}" if report.tables else ""))
    for note in report.notes:
        click.secho(f"note: {note}", err=True, fg="yellow")


@click.group("testsuite")
def testsuite_group() -> None:
    """Build test-suite databases: neighbours of a database that expose near-miss queries."""


@testsuite_group.command("build")
@click.argument("target")
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Folder to write <db_id>/<db_id>_tsNN.sqlite into.")
@click.option("-n", "n", type=int, default=20, show_default=True, help="Neighbour databases to keep.")
@click.option("--queries", type=click.Path(), default=None,
              help="Queries whose near misses the suite must catch (any gold/prediction format; default: probes "
                   "written from the schema).")
@click.option("--candidates", type=int, default=None, help="Random candidates to try (default: 10 per neighbour, at least 100).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
def build_cmd(target: str, out_dir: str, n: int, queries: str | None, candidates: int | None, seed: int,
              as_json: bool) -> None:
    """Write neighbour databases of TARGET (a SQLite path or SQLAlchemy URL) with the same schema and keys."""
    from sqldistill.errors import DataError
    from sqldistill.eval.testsuite import build_testsuite

    if n < 1:
        raise DataError("-n must be 1 or more", hint="Ask for at least one neighbour database")
    if candidates is not None and candidates < n:
        raise DataError(f"--candidates ({candidates}) must be at least -n ({n})", hint="Raise --candidates")
    bar, update = _progress("building test suite")
    with bar:
        report = build_testsuite(target, out_dir, n=n, queries=queries, candidates=candidates, seed=seed,
                                 progress=update)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    needing = report.pairs - report.caught_by_original
    share = f"{report.caught_by_suite / needing:.1%}" if needing else "n/a"
    click.echo(f"{len(report.neighbours)} neighbour databases in {report.directory} ({report.seconds:.1f} s)")
    click.echo(f"queries: {report.queries} used, {report.queries_skipped} skipped (not runnable)")
    click.echo(f"near misses: {report.pairs}; told apart by the original: {report.caught_by_original}; "
               f"of the other {needing}, the suite tells apart {report.caught_by_suite} ({share})")
    click.echo(f"foreign-key violations: {report.foreign_key_violations}; "
               f"candidates tried: {report.candidates} ({report.rejected_candidates} rejected)")

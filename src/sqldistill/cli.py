"""The ``sqldistill`` command line.

Subcommands are imported only when they run, so ``sqldistill --help`` stays instant; heavy libraries
(torch, transformers, sqlalchemy) are imported inside command bodies. Errors from the library are turned
into one line and exit code 2 here, at the edge, and nowhere else.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import sys
from typing import Any

import click

# name -> (module, attribute, one-line help). Help is duplicated here so listing commands imports nothing.
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("sqldistill.pipeline_commands", "init_cmd", "Write a commented config for a database."),
    "distill": ("sqldistill.pipeline_commands", "distill_cmd", "Run the whole pipeline from a config."),
    "synth": ("sqldistill.synth.commands", "synth_cmd", "Synthesize and filter question/SQL pairs."),
    "train": ("sqldistill.train.commands", "train_cmd", "Train a student (sft, kd, kid, gkd, dpo, rounds)."),
    "eval": ("sqldistill.eval.commands", "eval_cmd", "Score predictions: EX, exact match, test-suite."),
    "testsuite": ("sqldistill.eval.commands", "testsuite_group", "Build test-suite databases."),
    "ask": ("sqldistill.serve.commands", "ask_cmd", "Ask a trained model a question."),
    "serve": ("sqldistill.serve.commands", "serve_cmd", "Serve a model over HTTP with a web page."),
    "check": ("sqldistill.serve.commands", "check_cmd", "Check a database for drift from a model's schema."),
}


class UserError(click.ClickException):
    """A library error shown as one line with exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.secho(f"error: {self.message}", err=True, fg="red")


def _translate(err: BaseException) -> UserError | None:
    from sqldistill.errors import SqlDistillError

    if isinstance(err, SqlDistillError):
        return UserError(err.one_line())
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" writing {err.filename}" if err.filename else ""
        return UserError(f"No space left on the device{where}. Free some disk space and rerun; finished stages are kept.")
    if isinstance(err, PermissionError):
        return UserError(f"Permission denied: {err.filename}. Choose a path you can write to.")
    return None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, attr, _ = LAZY_COMMANDS[cmd_name]
            try:
                return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
            except (ImportError, AttributeError) as err:
                if os.environ.get("SQLDISTILL_DEBUG"):
                    raise
                raise UserError(f"the '{cmd_name}' command is unavailable ({err})") from None
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, LAZY_COMMANDS[name][2]) for name in LAZY_COMMANDS]
        rows += [(name, cmd.get_short_help_str(60)) for name, cmd in self.commands.items()]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as err:
            user = _translate(err)
            if user is not None:
                raise user from None
            if os.environ.get("SQLDISTILL_DEBUG"):
                raise
            raise UserError(
                f"internal error: {type(err).__name__}: {err}. Rerun with SQLDISTILL_DEBUG=1 for the traceback "
                "and report it"
            ) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sqldistill")
def cli() -> None:
    """Distil a small, private, fast text-to-SQL model for your own database."""


@cli.command()
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print the schema as JSON.")
@click.option("--samples", default=3, show_default=True, help="Sample values per column.")
@click.option("--style", type=click.Choice(["card", "create", "compact"]), default="card", show_default=True,
              help="card: readable summary; create/compact: the prompt renderings.")
def profile(target: str, as_json: bool, samples: int, style: str) -> None:
    """Reflect TARGET (a SQLite path or SQLAlchemy URL) and print its schema."""
    from sqldistill.db import reflect, render_schema

    schema = reflect(target, samples=max(samples, 0))
    if as_json:
        click.echo(schema.to_json())
        return
    if style != "card":
        click.echo(render_schema(schema, style=style, samples=samples))
        return
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console()
    console.print(f"[bold]{schema.db_id}[/] ({schema.dialect}) · {len(schema.tables)} tables · "
                  f"fingerprint [cyan]{schema.fingerprint}[/]")
    for table in schema.tables:
        grid = RichTable(title=f"{table.name} · {table.row_count} rows", title_justify="left", expand=False)
        for head in ("column", "type", "key", "distinct", "samples"):
            grid.add_column(head)
        fk_of = {c: f"→ {fk.ref_table}.{r}" for fk in table.foreign_keys for c, r in zip(fk.columns, fk.ref_columns)}
        for col in table.columns:
            key = " ".join(x for x in ("PK" if col.primary_key else "", fk_of.get(col.name, "")) if x)
            shown = ", ".join(json.dumps(v, ensure_ascii=False) if isinstance(v, str) else str(v)
                              for v in col.samples[:samples])
            grid.add_row(col.name, col.type, key, "" if col.distinct_count is None else str(col.distinct_count),
                         shown)
        console.print(grid)


@cli.command("sql")
@click.argument("target")
@click.argument("query")
@click.option("--timeout", "timeout_s", default=10.0, show_default=True, help="Seconds before the query is stopped.")
@click.option("--max-rows", default=100, show_default=True, help="Rows to return at most.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def sql_cmd(target: str, query: str, timeout_s: float, max_rows: int, as_json: bool) -> None:
    """Run one read-only QUERY against TARGET and print the rows."""
    from sqldistill.db import connect
    from sqldistill.errors import QueryFailed, QueryTimeout, UnsafeSQL

    with connect(target) as db:
        res = db.execute(query, timeout_s=timeout_s, max_rows=max_rows)
    if res.error_kind == "refused":
        raise UnsafeSQL(res.error or "refused", hint="Only a single read-only SELECT query can run")
    if res.error_kind == "timeout":
        raise QueryTimeout(f"Query stopped: {res.error}", hint="Raise --timeout or simplify the query")
    if res.error:
        raise QueryFailed(f"Query failed: {res.error}", hint="Check table and column names with `sqldistill profile`")
    if as_json:
        click.echo(json.dumps(res.to_dict(), default=str))
        return
    from rich.console import Console
    from rich.table import Table as RichTable

    grid = RichTable(*res.columns)
    for row in res.rows:
        grid.add_row(*["NULL" if v is None else str(v) for v in row])
    console = Console()
    console.print(grid)
    more = " (truncated; raise --max-rows)" if res.truncated else ""
    console.print(f"{len(res.rows)} rows in {res.elapsed_s * 1000:.1f} ms{more}")


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="sqldistill")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])

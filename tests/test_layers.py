"""Layers go one way: every module of ``sqldistill`` imports only from its own package and from packages below
it, and no two packages import each other.

The order, bottom to top, and why each sits where it does:

- ``errors``; ``records``, ``jsonfiles`` and ``_extras``: the exception hierarchy, the shared record types,
  atomic writes, the check for an optional extra (drivers and commands call it before importing one);
- ``sql``: sqlglot helpers that need no database (parse, read-only allowlist, skeletons, grounding, names);
- ``db``: connections, reflection, execution, result comparison (it checks statements with ``sql.safety``);
- ``spider``: the Spider evaluator's parts (parser, hardness, exact match, execution semantics, report table);
  synthesis tags hardness with it and training's rounds measure EX with it, so it sits below both;
- ``data``: the prompt renderer, dataset files, run manifests;
- ``models``: named sizes, building and loading models, the model directory;
- ``critics``, then ``synth``: synthesis runs the critics; the teacher critics ask the teacher through a
  protocol of their own (``critics.context.SecondOpinion``), so critics never import synth;
- ``infer``, then ``train``: rounds and dpo decode with a ``Predictor``; inference loads what training wrote;
- ``eval``: metrics, benchmarks, scoring a model, the run report;
- ``config``: the YAML config; only the pipeline turns it into components' arguments, so nothing below may
  read it;
- ``serve``; ``pipeline``; ``pipeline_commands``; ``cli``; ``__main__``.

Every import counts: module level, inside functions (the lazy imports of the CLI paths) and under
``TYPE_CHECKING``. The package root (``sqldistill``: the version and lazily loaded verbs) may be imported from
anywhere and imports nothing itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "sqldistill"
ROOT = ""  # the package's own __init__

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("records", "jsonfiles", "_extras"),
    ("sql",),
    ("db",),
    ("spider",),
    ("data",),
    ("models",),
    ("critics",),
    ("synth",),
    ("infer",),
    ("train",),
    ("eval",),
    ("config",),
    ("serve",),
    ("pipeline",),
    ("pipeline_commands",),
    ("cli",),
    ("__main__",),
)
RANK = {unit: rank for rank, layer in enumerate(LAYERS) for unit in layer}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str:
    """``sqldistill.eval.scoring`` -> ``eval``; ``sqldistill`` -> the root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def units_present() -> set[str]:
    return {p.stem if p.is_file() else p.name for p in SRC.iterdir()
            if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}


def imported_units(source: str, module: str, is_package: bool = False) -> Iterator[tuple[str, int]]:
    """(unit, line) for every import of a ``sqldistill`` module in ``source`` (the text of ``module``),
    wherever it stands."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source, module)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from sqldistill import train`` imports the package train; ``from sqldistill import __version__``
            # the root
            targets = [f"{base}.{alias.name}" if base == "sqldistill" else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "sqldistill" or target.startswith("sqldistill."):
                unit = unit_of(target)
                yield (unit if unit in RANK else ROOT), node.lineno


def file_imports(path: Path) -> Iterator[tuple[str, int]]:
    return imported_units(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")


def unit_edges() -> dict[tuple[str, str], list[str]]:
    """(importer, imported) unit pairs, each with where it happens (``module:line``)."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        module = module_name(path)
        importer = unit_of(module)
        for imported, line in file_imports(path):
            if imported != importer:
                edges.setdefault((importer, imported), []).append(f"{module}:{line}")
    return edges


def test_every_package_and_top_level_module_has_a_layer() -> None:
    assert units_present() == set(RANK), "place the new package in LAYERS (or remove a gone one)"


def test_the_root_imports_nothing_of_its_own() -> None:
    assert not [unit for unit, _ in file_imports(SRC / "__init__.py")]


def test_no_module_imports_from_a_higher_layer() -> None:
    upward = [f"{where[0]} imports {imported} (layer {RANK[imported]}), above {importer} (layer {RANK[importer]})"
              for (importer, imported), where in sorted(unit_edges().items())
              if importer != ROOT and imported != ROOT and RANK[imported] >= RANK[importer]]
    assert not upward, "\n".join(upward)


def test_no_two_packages_import_each_other_and_no_cycle() -> None:
    edges = unit_edges()
    mutual = sorted(f"{a} <-> {b} ({edges[(a, b)][0]}, {edges[(b, a)][0]})"
                    for a, b in edges if a < b and (b, a) in edges)
    assert not mutual, "\n".join(mutual)
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def cycle_from(unit: str, path: list[str]) -> list[str] | None:
        state[unit] = 1
        for nxt in sorted(graph.get(unit, ())):
            if state.get(nxt) == 1:
                return [*path, unit, nxt]
            if nxt not in state and (found := cycle_from(nxt, [*path, unit])):
                return found
        state[unit] = 2
        return None

    for unit in sorted(graph):
        if unit not in state:
            found = cycle_from(unit, [])
            assert found is None, " -> ".join(found)


def test_the_checker_sees_lazy_type_only_and_relative_imports() -> None:
    source = ("from typing import TYPE_CHECKING\n"
              "from sqldistill.errors import DataError\n"
              "if TYPE_CHECKING:\n    from sqldistill.serve.app import create_app\n"
              "def lazy() -> None:\n    import sqldistill.train.methods\n    from sqldistill import pipeline\n"
              "    from sqldistill import __version__\n    from . import scoring\n    from ..db import connect\n")
    found = list(imported_units(source, "sqldistill.eval.probe"))
    assert sorted(found) == [(ROOT, 8), ("db", 10), ("errors", 2), ("eval", 9), ("pipeline", 7), ("serve", 4),
                             ("train", 6)]
    # and on a real module: scoring's database import happens inside a function
    assert "db" in {unit for unit, _ in file_imports(SRC / "eval" / "scoring.py")}


def test_every_lazily_exported_name_loads_and_an_unknown_one_says_which_package() -> None:
    """Each package's ``__all__`` names load from the module its export table gives (a typo there fails
    here, not on a user's first call)."""
    import importlib

    import pytest

    for package in ("sqldistill.eval", "sqldistill.serve", "sqldistill.synth", "sqldistill.train"):
        module = importlib.import_module(package)
        assert module.__all__, package
        for name in module.__all__:
            assert getattr(module, name) is not None, (package, name)
        with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'no_such_name'"):
            module.no_such_name  # noqa: B018

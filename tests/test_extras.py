"""The core install: the commands it serves run without any extra, the others name the extra in one line.

Each command runs in a fresh interpreter where the extras' modules cannot be imported (``sys.modules[name] =
None`` makes ``import name`` fail and ``find_spec`` report it missing, as an uninstalled package would).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sqldistill._extras import EXTRAS, require_extra
from sqldistill.errors import MissingExtra

# every module an extra brings, and the heavy libraries those pull in
EXTRA_MODULES = sorted({m for _, modules in EXTRAS.values() for m in modules} | {
    "tensorboard", "sentence_transformers", "starlette", "safetensors", "pandas", "pyarrow", "scipy", "sklearn"})

RUN_WITHOUT_EXTRAS = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from sqldistill.cli import main
main(sys.argv[2:])
"""


def core_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUN_WITHOUT_EXTRAS, ",".join(EXTRA_MODULES), *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture()
def singer(spider_dir: Path, tmp_sqlite_copy) -> Path:  # type: ignore[no-untyped-def]
    return tmp_sqlite_copy("singer")  # type: ignore[no-any-return]


def test_core_commands_run_without_any_extra(singer: Path, spider_dir: Path, tmp_path: Path) -> None:
    rows = [x for x in json.loads((spider_dir / "dev_open.json").read_text()) if x["db_id"] == "singer"][:8]
    (tmp_path / "gold.sql").write_text("".join(f"{x['query']}\t{x['db_id']}\n" for x in rows))
    (tmp_path / "pred.sql").write_text("".join(f"{x['query']}\n" for x in rows))
    runs = {
        "profile": core_cli("profile", str(singer), "--json", cwd=tmp_path),
        "sql": core_cli("sql", str(singer), "SELECT count(*) FROM singer", "--json", cwd=tmp_path),
        "eval": core_cli("eval", "--gold", "gold.sql", "--pred", "pred.sql", "--db-dir", str(spider_dir / "database"),
                         "--json", "--workers", "1", "--no-cache", cwd=tmp_path),
        "synth": core_cli("synth", str(singer), "--out", "synth", "--n", "30", "--quiet", cwd=tmp_path),
        "testsuite": core_cli("testsuite", "build", str(singer), "--out", "suite", "-n", "1", "--candidates", "5",
                              "--json", cwd=tmp_path),
        "init": core_cli("init", str(singer), "--out", "cfg.yaml", cwd=tmp_path),
    }
    failed = {name: res.stderr[-500:] for name, res in runs.items() if res.returncode != 0}
    assert not failed, failed
    assert json.loads(runs["sql"].stdout)["rows"] == [[8]]
    assert json.loads(runs["eval"].stdout)["scores"]["all"]["exec"] == 1.0
    assert (tmp_path / "synth" / "train.jsonl").stat().st_size > 0
    assert (tmp_path / "cfg.yaml").is_file() and list((tmp_path / "suite").rglob("*.sqlite"))


@pytest.mark.parametrize(("args", "extra"), [
    (["train", "--train-file", "x.jsonl", "--out", "m"], "train"),
    (["distill", "cfg.yaml"], "train"),
    (["ask", "model", "How many singers are there?"], "serve"),
    (["serve", "model", "--db", "{db}"], "serve"),
    (["synth", "{db}", "--out", "s", "--teacher", "teacher"], "train"),
    (["profile", "postgresql+psycopg://reader@127.0.0.1:1/shop"], "postgres"),
    (["sql", "mysql+pymysql://reader@127.0.0.1:1/shop", "SELECT 1"], "mysql"),
    (["profile", "shop.duckdb"], "duckdb"),
])
def test_a_missing_extra_is_one_line_naming_it(args: list[str], extra: str, singer: Path, tmp_path: Path) -> None:
    (tmp_path / "teacher").mkdir()
    (tmp_path / "teacher" / "config.json").write_text("{}")
    (tmp_path / "shop.duckdb").write_bytes(b"")
    res = core_cli(*[a.replace("{db}", str(singer)) for a in args], cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith("error: ") and lines[0].endswith(f"pip install 'sqldistill[{extra}]'"), lines[0]


def test_require_extra_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    require_extra("train", "training", ("json",))  # present: no error
    monkeypatch.setitem(sys.modules, "trl", None)
    with pytest.raises(MissingExtra) as err:
        require_extra("train", "sqldistill train", ("torch", "trl"))
    assert err.value.one_line() == ("sqldistill train needs the training extra (trl not installed): "
                                    "pip install 'sqldistill[train]'")

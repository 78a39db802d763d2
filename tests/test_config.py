"""Configs: validated once at load, unknown keys and bad values rejected with the field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqldistill.config import Config, config_from_dict, load_config
from sqldistill.errors import ConfigError


def test_minimal_config_gets_defaults() -> None:
    cfg = config_from_dict({"database": "x.sqlite"})
    assert isinstance(cfg, Config) and cfg.synth.n > 0 and cfg.student.model


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"database": "x", "synth": {"nn": 5}}, "synth.nn: unknown key"),
        ({"database": "x", "student": {"method": "magic"}}, "student.method"),
        ({"database": "x", "student": {"mask_ratio": 1.5}}, "student.mask_ratio"),
        ({"database": "x", "synth": {"n": "lots"}}, "synth.n"),
        ({"database": "x", "synth": {"n": -3}}, "synth.n"),
        ({"database": "x", "eval": {"num_candidates": 0}}, "eval.num_candidates"),
        ({"synth": {}}, "database"),
        ({"database": "  "}, "database"),
        (["not", "a", "mapping"], "mapping"),
    ],
)
def test_bad_values_name_the_field(data, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, source="cfg.yaml")
    assert needle in str(info.value)


def test_load_resolves_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    cfg_file = tmp_path / "sub" / "c.yaml"
    cfg_file.write_text("database: db.sqlite\nrun_dir: runs/x\neval:\n  questions: q.json\n")
    cfg = load_config(cfg_file)
    assert cfg.database == str(tmp_path / "sub" / "db.sqlite")
    assert cfg.run_dir == tmp_path / "sub" / "runs" / "x"
    assert cfg.eval.questions == tmp_path / "sub" / "q.json"


@pytest.mark.parametrize(("text", "needle"), [("database: [unclosed", "not valid YAML"), ("", "mapping")])
def test_malformed_files(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_config(f)
    with pytest.raises(ConfigError, match="No config file"):
        load_config(tmp_path / "missing.yaml")


def test_section_hash_tracks_only_its_sections() -> None:
    a = config_from_dict({"database": "x", "synth": {"n": 100}})
    b = config_from_dict({"database": "x", "synth": {"n": 100}, "student": {"model": "5m"}})
    c = config_from_dict({"database": "x", "synth": {"n": 200}})
    assert a.section_hash("synth") == b.section_hash("synth") != c.section_hash("synth")

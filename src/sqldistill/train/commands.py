"""``sqldistill train``: one command for every method, from a YAML config, flags, or both.

A config is a flat YAML mapping whose keys are the fields of the method's options object
(``train.options``: ``KDOptions`` for sft/kd/kid, ``GKDOptions``, ``DPOOptions``, ``RoundsOptions``) plus
``method``, ``train_file`` (``pairs_file`` for dpo) and ``out_dir``. Flags override the config;
``--set KEY=VALUE`` reaches any other option. Unknown keys and wrong types are refused with the key named, before anything loads.

For dpo, ``weak_model`` + ``db`` with a ``train_file`` (and no ``pairs_file``) first builds the preference pairs
into ``OUT_DIR/pairs.jsonl``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sqldistill.errors import ConfigError

if TYPE_CHECKING:
    from sqldistill.train.methods import TrainResult
    from sqldistill.train.options import TrainOptions

METHODS = ("sft", "kd", "kid", "gkd", "dpo", "rounds")
PAIR_KEYS = ("weak_model", "num_candidates", "mode", "max_new_tokens")


def options_class(method: str) -> type[TrainOptions]:
    """The options object of ``method`` (its fields are the config keys)."""
    from sqldistill.train.options import DPOOptions, GKDOptions, KDOptions, RoundsOptions

    return {"gkd": GKDOptions, "dpo": DPOOptions, "rounds": RoundsOptions}.get(method, KDOptions)


def allowed_keys(method: str) -> set[str]:
    """Keys a config may set for ``method``."""
    from sqldistill.train.options import option_fields

    names = set(option_fields(options_class(method)))
    if method == "dpo":
        names |= {*PAIR_KEYS, "train_file"}
    return names


def read_config(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read config {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML ({str(err).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of option: value")
    return data


def _check_types(cls: type[TrainOptions], options: dict[str, Any]) -> None:
    """Catch a string where a number belongs (and similar) now, with the key named, not deep inside training."""
    from sqldistill.train.options import option_fields

    fields = option_fields(cls)
    for key, value in options.items():
        if key not in fields or value is None:
            continue
        default = fields[key].default
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"option '{key}' must be true or false, got {value!r}")
        number = isinstance(default, (int, float)) and not isinstance(default, bool)
        if number and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigError(f"option '{key}' must be a number, got {value!r}")


def resolve(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(method, validated keyword options) from a merged config."""
    cfg = dict(config)
    method = str(cfg.pop("method", "sft"))
    if method not in METHODS:
        raise ConfigError(f"unknown method '{method}'", hint=f"Use one of {', '.join(METHODS)}")
    allowed = allowed_keys(method) | {"train_file", "pairs_file", "out_dir"}
    unknown = sorted(k for k in cfg if k not in allowed)
    if unknown:
        raise ConfigError(f"unknown option(s) for {method}: {', '.join(unknown)}",
                          hint="Options are the fields of the method's options object (sqldistill.train.options)")
    for required in ("out_dir",):
        if not cfg.get(required):
            raise ConfigError(f"'{required}' is required", hint="Pass --out DIR or set out_dir in the config")
    if method == "dpo":
        if not cfg.get("pairs_file") and not (cfg.get("train_file") and cfg.get("weak_model") and cfg.get("db")):
            raise ConfigError("dpo needs pairs_file, or train_file + weak_model + db to build the pairs")
    elif not cfg.get("train_file"):
        raise ConfigError("'train_file' is required", hint="Pass --train-file FILE or set train_file in the config")
    if method in ("kd", "kid", "gkd") and not cfg.get("teacher"):
        raise ConfigError(f"{method} needs a teacher", hint="Pass --teacher MODEL_DIR")
    if method == "rounds" and not (cfg.get("unlabelled_file") and cfg.get("db")):
        raise ConfigError("rounds needs unlabelled_file and db")
    if method == "dpo" and not cfg.get("model"):
        raise ConfigError("dpo needs the model to start from", hint="Pass --model MODEL_DIR (normally the sft model)")
    _check_types(options_class(method), cfg)
    return method, cfg


def run(method: str, options: dict[str, Any]) -> TrainResult:
    opts = dict(options)
    out_dir = opts.pop("out_dir")
    if method == "dpo":
        from sqldistill.train.dpo import build_dpo_pairs, train_dpo
        from sqldistill.train.options import DPOOptions

        pairs = opts.pop("pairs_file", None)
        pair_opts = {k: opts.pop(k) for k in PAIR_KEYS if k in opts}
        train_file = opts.pop("train_file", None)
        if not pairs:
            pairs = Path(out_dir) / "pairs.jsonl"
            stats = build_dpo_pairs(train_file, pairs, db=opts["db"], **pair_opts)
            click.echo(f"preference pairs: {stats['pairs']} from {stats['questions']} questions "
                       f"({stats['weak_all_right']} the weak model got right)")
        return train_dpo(pairs, out_dir, DPOOptions(**opts))
    train_file = opts.pop("train_file")
    if method == "gkd":
        from sqldistill.train.gkd import train_gkd
        from sqldistill.train.options import GKDOptions

        return train_gkd(train_file, out_dir, GKDOptions(**opts))
    if method == "rounds":
        from sqldistill.train.options import RoundsOptions
        from sqldistill.train.rounds import train_rounds

        return train_rounds(train_file, out_dir, RoundsOptions(**opts))
    from sqldistill.train.methods import train_student
    from sqldistill.train.options import KDOptions

    return train_student(method, train_file, out_dir, KDOptions(**opts))


def _parse_set(items: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got '{item}'")
        out[key.strip().replace("-", "_")] = yaml.safe_load(value) if value else None
    return out


@click.command("train")
@click.argument("config", required=False, type=click.Path(path_type=Path))
@click.option("--method", type=click.Choice(METHODS), help="Training method (default sft).")
@click.option("--train-file", help="JSONL with prompt/completion (question/sql) pairs.")
@click.option("--pairs-file", help="dpo: JSONL with prompt/chosen/rejected.")
@click.option("--out", "out_dir", help="Model directory to write.")
@click.option("--model", help="Named size (1m, 5m, 20m, qwen2-5m...) or a local model directory.")
@click.option("--teacher", help="Teacher model directory (kd, kid, gkd).")
@click.option("--schema", help="Schema JSON (default: schema.json beside the data).")
@click.option("--db", help="Database target (reflects the schema; dpo pairs and rounds execute on it).")
@click.option("--epochs", type=float)
@click.option("--max-steps", type=int)
@click.option("--batch-size", type=int)
@click.option("--lr", type=float)
@click.option("--lora/--no-lora", default=None, help="LoRA adapters instead of full fine-tuning.")
@click.option("--curriculum/--no-curriculum", default=None, help="Easy-to-hard order.")
@click.option("--seed", type=int)
@click.option("--report-to", help="Trainer loggers, e.g. tensorboard (logs under OUT/logs).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Any other option of the method.")
def train_cmd(config: Path | None, sets: tuple[str, ...], **flags: Any) -> None:
    """Train a student from CONFIG (YAML) and/or flags, and write a model directory."""
    from sqldistill._extras import require_extra

    require_extra("train", "sqldistill train")  # before the method's module imports torch, trl and peft
    merged: dict[str, Any] = read_config(config) if config else {}
    merged.update({k: v for k, v in flags.items() if v is not None})
    merged.update(_parse_set(sets))
    method, options = resolve(merged)
    result = run(method, options)
    loss = f"{result.final_loss:.4f}" if result.final_loss is not None else "n/a"
    click.echo(f"{method}: {result.steps} steps in {result.train_seconds:.1f} s, final loss {loss}, "
               f"{result.num_parameters:,} parameters -> {result.model_dir}")

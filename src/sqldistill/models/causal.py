"""Models and tokenizers: from-scratch students in named sizes, or any local transformers causal LM.

A model spec is either a named size (``"1m"``, ``"5m"``, ``"20m"``, optionally prefixed with the shape:
``"llama-5m"``, ``"qwen2-20m"``) or the path of a local directory that ``AutoModelForCausalLM`` can load.
From-scratch models get a byte-level BPE tokenizer trained on the run's own corpus (prompts, SQL, schema
names and values), so a 1M-parameter student does not spend most of its weights on a 150k-token vocabulary.

Sizes are named for their parameter count with the default 4,096-token vocabulary; the real count depends
on the tokenizer and is reported by ``count_parameters``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.errors import ConfigError, ModelError
from sqldistill.models.sizes import DEFAULT_VOCAB, SIZES, parse_size

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

PAD, EOS, MASK = "<|pad|>", "<|eos|>", "<|mask|>"

PLAIN_TOKENIZER_CLASSES = ("TokenizersBackend", "PreTrainedTokenizerFast")


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB, isolate_spaces: bool = False
) -> PreTrainedTokenizerBase:
    """A byte-level BPE tokenizer trained on ``texts``, with pad, eos and mask tokens and no BOS.

    Byte-level means any value a user types can be encoded, even characters never seen in training.
    ``isolate_spaces`` makes spaces and punctuation tokens of their own, so a word has the same ids in the
    question ("named Brittany") and in the SQL ("= 'Brittany'"), which should help copying unseen values; plain
    byte-level BPE glues the space to the next word. It is off by default because, measured on network_1
    (1m student, sft, one seed), it did worse: EX 8.9% vs 12.5% on human questions and 43.8% vs 49.3% on
    held-out synthetic pairs after 20 epochs, with ~1.3x longer sequences.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 300:
        raise ConfigError(f"vocab_size {vocab_size} is too small", hint="Use at least 300 (256 bytes + merges)")
    tok = Tokenizer(models.BPE())
    if isolate_spaces:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(r"\s+|\w+|[^\s\w]"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[PAD, EOS, MASK],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS, mask_token=MASK)
    fast.padding_side = "right"
    fast.model_max_length = 1 << 20
    return fast


def new_model(
    size: str, tokenizer: PreTrainedTokenizerBase, max_positions: int = 1024, seed: int = 0
) -> PreTrainedModel:
    """A randomly initialised Llama- or Qwen2-shaped causal LM of a named size, sized to ``tokenizer``."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    parsed = parse_size(size)
    if parsed is None:
        raise ConfigError(f"unknown model size '{size}'", hint=f"Use one of {', '.join(SIZES)} or a model directory")
    arch, name = parsed
    hidden, layers, heads, kv_heads, mlp = SIZES[name]
    common: dict[str, Any] = dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        intermediate_size=mlp,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        rms_norm_eps=1e-5,
    )
    config = LlamaConfig(**common) if arch == "llama" else Qwen2Config(**common)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    set_generation_tokens(model, tokenizer)
    return model


def set_generation_tokens(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Make ``generate`` stop at the tokenizer's EOS and pad with its pad token."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = pad
    model.generation_config.bos_token_id = getattr(tokenizer, "bos_token_id", None)


@contextmanager
def no_hub_bars() -> Iterator[None]:
    """Hide transformers' per-load/per-save progress bars (noise next to our own progress)."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    # AutoTokenizer picks the class from the model type (a qwen2 config gets Qwen2Tokenizer, which adds its own
    # special tokens); a plain tokenizers-backed tokenizer such as ours must be loaded as exactly that.
    cfg_file = Path(path) / "tokenizer_config.json"
    plain = False
    if cfg_file.is_file():
        try:
            plain = json.loads(cfg_file.read_text()).get("tokenizer_class") in PLAIN_TOKENIZER_CLASSES
        except ValueError:
            plain = False
    try:
        tok = (PreTrainedTokenizerFast if plain else AutoTokenizer).from_pretrained(str(path))
    except Exception as err:  # transformers raises many types for a bad directory
        raise ModelError(f"cannot load a tokenizer from {path}: {err}", hint="Point to a model directory") from None
    if tok.eos_token_id is None:
        raise ModelError(f"the tokenizer in {path} has no EOS token", hint="Set eos_token in tokenizer_config.json")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token  # generation and batching need one; EOS is the usual stand-in
    return tok


def load_model(path: str | Path, dtype: torch.dtype | None = None, device: str | None = None) -> PreTrainedModel:
    """Load any local transformers causal LM; the error names the directory and what is missing."""
    from transformers import AutoModelForCausalLM

    p = Path(path)
    if not p.is_dir():
        raise ModelError(f"model directory {p} does not exist", hint="Train a model first or check the path")
    if not (p / "config.json").is_file():
        raise ModelError(f"{p} has no config.json", hint="Point to a directory written by save_pretrained")
    try:
        with no_hub_bars():
            model = AutoModelForCausalLM.from_pretrained(str(p), dtype=dtype or "auto")
    except Exception as err:
        raise ModelError(f"cannot load the model in {p}: {err}") from None
    if device:
        model = model.to(device)  # type: ignore[arg-type]
    return model


def count_parameters(model: torch.nn.Module, trainable_only: bool = False) -> int:
    """Distinct parameters (tied embeddings count once)."""
    seen: dict[int, int] = {}
    for p in model.parameters():
        if not trainable_only or p.requires_grad:
            seen[id(p)] = p.numel()
    return sum(seen.values())


def check_same_vocabulary(
    teacher: PreTrainedModel,
    student: PreTrainedModel,
    teacher_tokenizer: PreTrainedTokenizerBase,
    student_tokenizer: PreTrainedTokenizerBase,
) -> None:
    """Token-level distillation compares distributions id by id, so both sides must mean the same thing by an id."""
    t_rows = teacher.get_output_embeddings().weight.shape[0]
    s_rows = student.get_output_embeddings().weight.shape[0]
    hint = "Use a teacher and student that share a tokenizer (e.g. build the student from the teacher's tokenizer)"
    if t_rows != s_rows:
        raise ModelError(f"teacher and student vocabularies differ in size ({t_rows} vs {s_rows})", hint=hint)
    tv, sv = teacher_tokenizer.get_vocab(), student_tokenizer.get_vocab()
    if tv != sv:
        diff = sorted(set(tv.items()) ^ set(sv.items()))[:3]
        raise ModelError(f"teacher and student tokenizers map tokens differently (e.g. {diff})", hint=hint)


def model_shape(model: PreTrainedModel) -> dict[str, Any]:
    """The few config fields a report shows next to the parameter count."""
    cfg = model.config
    keys = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size")
    return {k: getattr(cfg, k, None) for k in keys}


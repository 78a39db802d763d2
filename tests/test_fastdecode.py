"""The fast greedy decoder computes what the transformers forward computes, for both model shapes, and the
continuous (slot) decoder gives every prompt the answer it would get alone, however prompts come and go."""

from __future__ import annotations

import random
from typing import Any

import pytest
import torch

from sqldistill.infer.continuous import NgramDrafter, SlotDecoder
from sqldistill.infer.fastdecode import FastDecoder, unsupported_reason
from sqldistill.models.causal import new_model, train_tokenizer

torch.set_num_threads(1)

TEXTS = ["SELECT name FROM singer WHERE age > 30", "How many singers are there?",
         "SELECT count(*) FROM concert JOIN stadium ON concert.stadium_id = stadium.stadium_id"] * 4


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return train_tokenizer(TEXTS, vocab_size=300)


def random_model(tokenizer: Any, shape: str, seed: int) -> Any:
    """A random model whose norm weights and biases are not their identity initial values, so folding them into
    the fused products is really exercised."""
    model = new_model(f"{shape}-1m", tokenizer, max_positions=256, seed=seed).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
                param.copy_(1 + 0.5 * torch.randn(param.shape, generator=gen))
            elif name.endswith(".bias"):
                param.copy_(0.2 * torch.randn(param.shape, generator=gen))
            else:  # larger weights than the initialiser's, so the greedy path is not one repeated token
                param.mul_(4.0)
    return model


def prompts_of(tokenizer: Any, n: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    vocab = [i for i in range(len(tokenizer)) if i not in (tokenizer.eos_token_id, tokenizer.pad_token_id)]
    return [[rng.choice(vocab) for _ in range(rng.randint(3, 14))] for _ in range(n)]


def hf_next_logits(model: Any, prompts: list[list[int]], pad: int) -> torch.Tensor:
    width = max(map(len, prompts))
    ids = torch.full((len(prompts), width), pad)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0)).logits[:, -1]


def hf_greedy(model: Any, prompt: list[int], steps: int, eos: int) -> list[int]:
    ids = list(prompt)
    out: list[int] = []
    with torch.no_grad():
        for _ in range(steps):  # no cache at all: the plainest reference there is
            nxt = int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
            if nxt == eos:
                break
            out.append(nxt)
            ids.append(nxt)
    return out


@pytest.mark.parametrize("shape", ["llama", "qwen2"])
def test_logits_and_greedy_tokens_equal_the_transformers_model(tokenizer: Any, shape: str) -> None:
    model = random_model(tokenizer, shape, seed=1)
    if shape == "qwen2":
        assert model.model.layers[0].self_attn.q_proj.bias is not None  # biases are part of what is checked
    fast = FastDecoder.for_model(model)
    assert fast is not None and unsupported_reason(model) is None
    prompts = prompts_of(tokenizer, 6, seed=2)
    ref = hf_next_logits(model, prompts, tokenizer.pad_token_id)
    got = fast.logits(prompts)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    eos = tokenizer.eos_token_id
    expected = [hf_greedy(model, p, 12, eos) for p in prompts]
    assert sum(len(e) for e in expected) > 20  # the references really decode several tokens
    assert fast.greedy(prompts, 12, eos) == expected  # left-padded batch
    assert [fast.greedy([p], 12, eos)[0] for p in prompts] == expected  # one by one


def test_unsupported_models_are_refused_with_a_reason(tokenizer: Any) -> None:
    model = random_model(tokenizer, "llama", seed=3)
    assert "training" in str(unsupported_reason(model.train()))
    model.eval()
    assert "dtype" in str(unsupported_reason(model.to(torch.bfloat16)))
    assert FastDecoder.for_model(model) is None
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=50)).eval()
    assert "gpt2" in str(unsupported_reason(gpt2)) and FastDecoder.for_model(gpt2) is None


class NoiseDrafter(NgramDrafter):
    """Random guesses, never learned: nearly all of them wrong."""

    def __init__(self, vocab: int, seed: int) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.vocab = vocab

    def add(self, tokens: list[int]) -> None:
        pass

    def draft(self, tokens: list[int], k: int, stop: int | None = None) -> list[int]:
        return [self.rng.randrange(self.vocab) for _ in range(self.rng.randint(0, k))]


def run_arrivals(slots: SlotDecoder, prompts: list[list[int]], limits: list[int]) -> tuple[dict[int, list[int]], int, int]:
    """60 prompts arriving at random between steps: (tokens per tag, steps taken, most prompts running at once)."""
    rng = random.Random(6)
    todo = list(range(60))
    got: dict[int, list[int]] = {}
    max_running = steps = 0
    while todo or slots.busy():
        steps += 1
        for _ in range(rng.randint(0, 3)):  # arrivals between steps, sometimes more than the free slots
            if todo:
                i = todo.pop()
                slots.add(prompts[i % 9], limits[i % 9], i)
        for tag, tokens in slots.step():
            assert tag not in got
            got[tag] = tokens
        max_running = max(max_running, slots.running)
    return got, steps, max_running


@pytest.mark.parametrize("drafts", ["none", "learned", "noise"])
def test_slot_decoder_answers_each_prompt_as_if_alone_whatever_the_arrival_order(tokenizer: Any, drafts: str) -> None:
    """Also with speculative steps: guesses learned from earlier answers (most hold) or random guesses (few
    hold) change how many steps an answer takes, never its tokens."""
    model = random_model(tokenizer, "qwen2", seed=4)
    fast = FastDecoder.for_model(model)
    assert fast is not None
    eos = tokenizer.eos_token_id
    prompts = prompts_of(tokenizer, 9, seed=5)
    limits = [3, 12, 7, 12, 1, 9, 12, 5, 12]
    alone = [fast.greedy([p], lim, eos)[0] for p, lim in zip(prompts, limits)]
    drafter = {"none": None, "learned": NgramDrafter(order=3), "noise": NoiseDrafter(len(tokenizer), 9)}[drafts]
    slots = SlotDecoder(fast, slots=4, eos_id=eos, drafter=drafter, max_draft=5)
    got, steps, max_running = run_arrivals(slots, prompts, limits)
    assert sorted(got) == list(range(60))
    for i, tokens in got.items():
        assert tokens == alone[i % 9], i
        assert len(tokens) <= limits[i % 9]
    assert max_running == 4  # the slots really filled up, and never beyond
    _, plain_steps, _ = run_arrivals(SlotDecoder(fast, slots=4, eos_id=eos), prompts, limits)
    if drafts == "none":
        assert slots.drafted == 0 and steps == plain_steps
    elif drafts == "learned":  # the answers repeat, so the guesses learned from the first ones mostly hold
        assert slots.accepted > 0.5 * slots.drafted > 0 and steps < 0.7 * plain_steps
    else:
        assert slots.drafted > 100 and slots.accepted < 0.2 * slots.drafted
    with pytest.raises(ValueError, match="empty prompt"):
        slots.add([], 5, "x")


def test_clearing_a_slot_decoder_returns_every_tag_and_leaves_it_usable(tokenizer: Any) -> None:
    model = random_model(tokenizer, "llama", seed=7)
    fast = FastDecoder.for_model(model)
    assert fast is not None
    eos = tokenizer.eos_token_id
    prompts = prompts_of(tokenizer, 4, seed=8)
    slots = SlotDecoder(fast, slots=2, eos_id=eos)
    for i, p in enumerate(prompts[:3]):
        slots.add(p, 12, i)
    slots.step()  # two run, one waits
    assert sorted(slots.clear()) == [0, 1, 2] and not slots.busy()
    slots.add(prompts[3], 12, "after")
    done: list[Any] = []
    while slots.busy():
        done += slots.step()
    assert done == [("after", fast.greedy([prompts[3]], 12, eos)[0])]


def test_ngram_drafter_guesses_the_most_frequent_continuation_of_the_longest_known_context() -> None:
    d = NgramDrafter(order=3)
    eos = 0
    d.add([5, 6, 7, eos])
    d.add([5, 6, 7, eos])
    d.add([5, 6, 8, 9, eos])
    d.add([4, 6, 8, eos])
    assert d.draft([], 10, stop=eos) == [5, 6, 7, eos]  # from the start: the most frequent answer, up to EOS
    assert d.draft([4, 6], 10, stop=eos) == [8, eos]  # (4, 6) was followed by 8, though (6,) mostly by 7
    assert d.draft([5, 6, 8], 1) == [9]
    assert d.draft([1, 2], 5) == []  # an unknown context: no guess rather than a poor one
    assert d.draft([], 2) == [5, 6]
    capped = NgramDrafter(order=2, max_contexts=2)
    capped.add([1, 2, 3, 4, 5])
    assert len(capped) == 2

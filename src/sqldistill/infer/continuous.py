"""Continuous greedy decoding on the fast path: questions join and leave one running batch between steps
(``SlotDecoder``), and steps may be speculative, checking tokens guessed from earlier answers
(``NgramDrafter``) in one forward pass.

Contract (stable):

- ``SlotDecoder(decoder, slots, eos_id, drafter=None, max_draft=4)``: ``add(prompt_ids, max_new_tokens, tag)``
  queues a prompt, ``step()`` advances every running prompt and returns ``(tag, tokens)`` for those that
  finished, ``clear()`` drops everything in flight; ``drafted``/``accepted`` count guesses made and kept.
- ``NgramDrafter(order=4)``: ``add(tokens)`` learns an answer, ``draft(tokens, k, stop)`` guesses how the
  answer so far goes on.

The tokens are those ``FastDecoder.greedy`` gives each prompt alone (up to float rounding between batch
shapes), whatever the arrivals and the guesses.
"""

from __future__ import annotations

from typing import Any

from sqldistill.infer.fastdecode import FastDecoder


class NgramDrafter:
    """Guesses how an answer goes on from answers seen before: a table from the last ``order`` tokens (fewer
    when those were never seen, but at least two, the first of which may be the start of the answer) to the
    token that most often came next. A model specialised to one schema writes a few query shapes over and over,
    so the next tokens of an answer are often those of an earlier one; ``SlotDecoder`` checks every guess with
    the model (the output is the model's own greedy answer either way) and keeps the guessed tokens it agrees
    with, several per forward step.

    ``add(tokens)`` learns a token sequence (an answer, ending with EOS when it ended there); ``draft(tokens,
    k)`` returns up to ``k`` guessed next tokens after ``tokens`` (the answer so far). The table stops taking new
    contexts at ``max_contexts`` (counts of known ones still change)."""

    START = -1  # stands before the first token of every answer

    def __init__(self, order: int = 4, max_contexts: int = 200_000) -> None:
        self.order = max(2, order)
        self.max_contexts = max_contexts
        self.counts: dict[tuple[int, ...], dict[int, int]] = {}
        self.best: dict[tuple[int, ...], int] = {}

    def __len__(self) -> int:
        return len(self.best)

    def add(self, tokens: list[int]) -> None:
        seq = [self.START, *tokens]
        for i in range(1, len(seq)):
            nxt = seq[i]
            # contexts of 2..order tokens; the first token also after START alone
            for n in range(1 if i == 1 else 2, min(self.order, i) + 1):
                key = tuple(seq[i - n:i])
                counts = self.counts.get(key)
                if counts is None:
                    if len(self.best) >= self.max_contexts:
                        continue
                    counts = self.counts[key] = {}
                counts[nxt] = counts.get(nxt, 0) + 1
                best = self.best.get(key)
                if best is None or (best != nxt and counts[nxt] > counts[best]):
                    self.best[key] = nxt

    def draft(self, tokens: list[int], k: int, stop: int | None = None) -> list[int]:
        """Up to ``k`` guessed tokens after ``tokens``; ends early at ``stop`` (EOS) or an unknown context."""
        ctx = [self.START, *tokens][-self.order:]
        out: list[int] = []
        while len(out) < k:
            nxt = None
            for n in range(min(self.order, len(ctx)), 0, -1):
                if n == 1 and ctx[-1] != self.START:
                    break
                nxt = self.best.get(tuple(ctx[-n:]))
                if nxt is not None:
                    break
            if nxt is None:
                break
            out.append(nxt)
            if nxt == stop:
                break
            ctx.append(nxt)
        return out


class SlotDecoder:
    """Continuous greedy decoding: prompts join and leave a running batch between steps.

    Each prompt takes a free slot of a shared KV cache; ``step()`` first prefills what was added since the last
    step, then advances every running prompt by one token and returns those that finished (EOS or their token
    limit). A short answer therefore leaves as soon as it is done instead of waiting for the longest one in its
    batch, and a question that arrives mid-way starts at the next step. The batch covers slots up to the highest
    one in use, so one question alone costs what it costs alone. Not thread-safe: one thread drives it.

    With a ``drafter`` (``NgramDrafter``; every finished answer teaches it) a step is speculative: each running
    prompt appends up to ``max_draft`` guessed tokens to its last one, one forward pass scores them all, and
    the prompt keeps the guesses the model's own greedy choice agrees with plus the model's next token, so a
    step can advance a prompt by several tokens. The tokens are the same as without a drafter (up to float
    rounding between batch shapes); ``drafted``/``accepted`` count guesses made and kept."""

    def __init__(self, decoder: FastDecoder, slots: int = 16, eos_id: int = 0,
                 drafter: NgramDrafter | None = None, max_draft: int = 4) -> None:
        self.d = decoder
        self.slots = max(1, slots)
        self.eos_id = eos_id
        self.drafter = drafter
        self.max_draft = max(0, max_draft)
        self.drafted = 0
        self.accepted = 0
        self.capacity = 0
        self.caches: list[tuple[Any, Any]] = []
        self.valid: Any = None  # [slots, capacity] bool: which cache positions hold a real token
        self.length = [0] * self.slots  # next cache index per slot
        self.position = [0] * self.slots  # next position id per slot
        self.limit = [0] * self.slots
        self.tokens: list[list[int]] = [[] for _ in range(self.slots)]
        self.last = [0] * self.slots
        self.tag: list[Any] = [None] * self.slots
        self.waiting: list[tuple[list[int], int, Any]] = []

    @property
    def running(self) -> int:
        return sum(t is not None for t in self.tag)

    @property
    def free(self) -> int:
        return self.slots - self.running - len(self.waiting)

    def busy(self) -> bool:
        return bool(self.waiting) or self.running > 0

    def clear(self) -> list[Any]:
        """Drop every prompt, running or waiting (after a failed step); returns their tags."""
        tags = [t for t in self.tag if t is not None] + [t for _, _, t in self.waiting]
        self.tag = [None] * self.slots
        self.tokens = [[] for _ in range(self.slots)]
        self.length = [0] * self.slots
        self.position = [0] * self.slots
        self.waiting = []
        self.caches, self.valid, self.capacity = [], None, 0  # allocated afresh by the next admission
        return tags

    def add(self, prompt: list[int], max_new_tokens: int, tag: Any) -> None:
        """Queue a prompt (its token ids); it starts at the next ``step``. ``tag`` comes back with its answer."""
        if not prompt:
            raise ValueError("empty prompt")
        self.waiting.append((list(prompt), max(1, max_new_tokens), tag))

    def _ensure(self, needed: int) -> None:
        import torch

        if needed <= self.capacity:
            return
        cap = max(needed, 2 * self.capacity, 256)
        d = self.d
        caches = [(torch.zeros((self.slots, cap, d.n_kv, d.head_dim), dtype=d.dtype, device=d.device),
                   torch.zeros((self.slots, cap, d.n_kv, d.head_dim), dtype=d.dtype, device=d.device))
                  for _ in d.layers]
        valid = torch.zeros((self.slots, cap), dtype=torch.bool, device=d.device)
        if self.capacity:
            for (k_old, v_old), (k_new, v_new) in zip(self.caches, caches):
                k_new[:, : self.capacity] = k_old
                v_new[:, : self.capacity] = v_old
            valid[:, : self.capacity] = self.valid
        self.caches, self.valid, self.capacity = caches, valid, cap

    def _admit(self) -> list[tuple[Any, list[int]]]:
        import torch

        free = [i for i in range(self.slots) if self.tag[i] is None]
        batch, self.waiting = self.waiting[: len(free)], self.waiting[len(free):]
        if not batch:
            return []
        slots = free[: len(batch)]
        prompts = [p for p, _, _ in batch]
        width = max(len(p) for p in prompts)
        self._ensure(width + max(limit for _, limit, _ in batch) + 1)
        index = torch.tensor(slots, device=self.d.device)
        if slots == list(range(slots[0], slots[0] + len(slots))):  # neighbouring slots: prefill in place
            lo, hi = slots[0], slots[0] + len(slots)
            h, *_ = self.d._start(prompts, 0, [(k[lo:hi], v[lo:hi]) for k, v in self.caches])
        else:
            h, _, _, _, caches = self.d._start(prompts, 0)
            for (k_slot, v_slot), (k_new, v_new) in zip(self.caches, caches):
                k_slot[index, :width] = k_new
                v_slot[index, :width] = v_new
        self.valid[index] = False
        finished = []
        first = self.d._head(h).argmax(-1).tolist()
        for row, (slot, (prompt, limit, tag)) in enumerate(zip(slots, batch)):
            self.valid[slot, width - len(prompt): width] = True
            self.length[slot], self.position[slot], self.limit[slot] = width, len(prompt), limit
            self.tokens[slot], self.tag[slot] = [], tag
            done = self._take(slot, first[row])
            if done is not None:
                finished.append(done)
        return finished

    def _take(self, slot: int, token: int) -> tuple[Any, list[int]] | None:
        """Record a slot's next token; (tag, tokens) and the slot freed when its answer is complete."""
        if token != self.eos_id:
            self.tokens[slot].append(token)
            self.last[slot] = token
        if token == self.eos_id or len(self.tokens[slot]) >= self.limit[slot]:
            done = (self.tag[slot], self.tokens[slot])
            if self.drafter is not None:
                self.drafter.add(self.tokens[slot] + ([token] if token == self.eos_id else []))
            self.tag[slot], self.tokens[slot] = None, []
            return done
        return None

    def step(self) -> list[tuple[Any, list[int]]]:
        """Admit waiting prompts, advance every running one by a token (or several, when a drafter's guesses
        hold); returns the (tag, tokens) that finished."""
        import torch

        with torch.inference_mode():
            finished = self._admit()
            live = [i for i in range(self.slots) if self.tag[i] is not None]
            if not live:
                return finished
            top = live[-1] + 1  # rows 0..top-1; free rows in between compute a throwaway token
            drafts: dict[int, list[int]] = {}
            if self.drafter is not None and self.max_draft:
                for slot in live:
                    room = self.limit[slot] - len(self.tokens[slot]) - 1  # the model's own token comes on top
                    if room > 0:
                        guess = self.drafter.draft(self.tokens[slot], min(self.max_draft, room), self.eos_id)
                        if guess:
                            drafts[slot] = guess
            q_len = 1 + max((len(g) for g in drafts.values()), default=0)
            dev = self.d.device
            self._ensure(max(self.length[:top]) + q_len)
            lengths = torch.tensor(self.length[:top], device=dev)
            index = lengths[:, None] + torch.arange(q_len, device=dev)  # [top, Q]: each new token's cache index
            rows = torch.arange(top, device=dev)[:, None].expand(top, q_len)
            self.valid[rows, index] = True
            end = max(self.length[:top]) + q_len
            rows_in: list[list[int]] = []
            for slot in range(top):  # the last token, its guesses, then filler whose results are dropped
                inputs = [self.last[slot], *drafts.get(slot, [])]
                rows_in.append(inputs + [self.last[slot]] * (q_len - len(inputs)))
            ids = torch.tensor(rows_in, device=dev)
            positions = torch.tensor(self.position[:top], device=dev)[:, None] + torch.arange(q_len, device=dev)
            if q_len == 1:
                mask = self.valid[:top, None, None, :end]
            else:  # a new token sees the row's earlier tokens and the new ones up to itself
                upto = torch.arange(end, device=dev)[None, None, :] <= index[:, :, None]
                mask = (self.valid[:top, None, :end] & upto).unsqueeze(1)
            caches = [(k[:top], v[:top]) for k, v in self.caches]
            h = self.d._forward(ids, positions, caches, 0, mask, rows=(rows.reshape(-1), index.reshape(-1)),
                                end=end, every=True)
            choice = self.d._head(h).argmax(-1).tolist()  # [top][Q]: the model's token after each input
            for slot in live:
                guess = drafts.get(slot, [])
                self.drafted += len(guess)
                j = 0
                while True:
                    done = self._take(slot, choice[slot][j])
                    if done is not None:
                        finished.append(done)
                        break
                    if j < len(guess) and guess[j] == choice[slot][j]:
                        j += 1  # the guess was the model's choice: its K/V are right, read on
                        continue
                    break
                self.accepted += j
                # inputs 0..j (the last token and j kept guesses) stay; the rest of this row's new cache goes
                self.valid[slot, self.length[slot] + j + 1: self.length[slot] + q_len] = False
                self.length[slot] += j + 1
                self.position[slot] += j + 1
            for slot in range(top):
                if self.tag[slot] is None:  # a free row's throwaway tokens must not stay visible
                    self.valid[slot] = False
                    self.length[slot] = self.position[slot] = 0
            return finished


__all__ = ["NgramDrafter", "SlotDecoder"]

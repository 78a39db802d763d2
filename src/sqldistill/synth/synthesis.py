"""``synthesize``: from a database alone to a filtered, balanced question/SQL training set.

Sources, in order of trust: user feedback, the query log, the teacher (new pairs and paraphrases of
kept questions), shapes and phrasings learned from a public corpus of people's questions (``corpus``), and
the hand-written template sampler. ``sources`` sets the mix: the log and the teacher get at most their share
of ``n``, and the corpus and the templates split what is left in proportion to theirs. Every candidate goes
through the same ordered critics; kept pairs are split into train/valid, drops are written with the critic
and its reason, and stats.json counts every critic, source, construct and hardness level.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqldistill.critics import (
    Critic,
    CriticContext,
    CriticStats,
    critic_name,
    critics_for,
    judge,
)
from sqldistill.critics import sets as set_critics
from sqldistill.data.dataset import write_dataset
from sqldistill.data.prompt import PromptFormat
from sqldistill.records import Example, Verdict
from sqldistill.sql.skeleton import skeleton
from sqldistill.synth.sampler import TemplateSource, hardness_for, spider_schema

# Hardness mix of a real log of people's questions (the Spider training log: 23/35/22/20 %).
DEFAULT_MIX: dict[str, float] = {"easy": 0.23, "medium": 0.35, "hard": 0.22, "extra": 0.20}
# Shares of n per source. Feedback is always used in full; log and teacher only when given.
DEFAULT_SOURCES: dict[str, float] = {"corpus": 0.8, "templates": 0.2, "log": 0.3, "teacher": 0.1}
SOURCES = ("corpus", "templates", "log", "teacher")


def parse_sources(text: str) -> dict[str, float]:
    """``corpus=0.8,templates=0.2`` as a mix; names left out keep their default share."""
    from sqldistill.errors import ConfigError

    mix = dict(DEFAULT_SOURCES)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, share = part.partition("=")
        try:
            value = float(share)
        except ValueError:
            value = -1.0
        if name.strip() not in SOURCES or value < 0:
            raise ConfigError(f"Bad source share {part!r}",
                              hint=f"Write name=share with a name among {', '.join(SOURCES)}, e.g. corpus=0.6")
        mix[name.strip()] = value
    return mix


def quotas(n: int, mix: dict[str, float]) -> dict[str, int]:
    total = sum(mix.values()) or 1.0
    return {level: math.ceil(n * share / total) for level, share in mix.items()}


class _Run:
    """The state of one synthesis: critics, kept and rejected examples, counters."""

    def __init__(self, ctx: CriticContext, critics: Sequence[Critic], n: int, progress: Any) -> None:
        self.ctx = ctx
        self.critics = tuple(critics)
        self.n = n
        self.kept: list[Example] = []
        self.rejects: list[tuple[Example, Verdict]] = []
        self.stats = CriticStats(checked={critic_name(c): 0 for c in self.critics})
        self.sources: dict[str, Counter[str]] = {}
        self.progress = progress

    def offer(self, ex: Example, critics: Sequence[Critic] | None = None) -> bool:
        counts = self.sources.setdefault(ex.source or "unknown", Counter())
        counts["candidates"] += 1
        verdict = judge(ex, critics or self.critics, self.ctx, self.stats)
        if verdict.keep:
            counts["kept"] += 1
            self.kept.append(ex)
            if self.progress is not None:
                self.progress(len(self.kept))
        else:
            self.rejects.append((ex, verdict))
        return verdict.keep

    @property
    def full(self) -> bool:
        return len(self.kept) >= self.n


def _fill(run: _Run, source: Any, target: int, max_attempts: int) -> int:
    """Draw candidates from ``source`` (templates or corpus) until ``target`` are kept. When a long run of draws keeps nothing, the
    database cannot give the target hardness mix: the mix is lifted; if it stalls again, it is exhausted."""
    attempts = stall = 0
    patience = max(300, target // 2)
    while len(run.kept) < target and attempts < max_attempts:
        attempts += 1
        source.full = {lvl for lvl, q in run.ctx.quotas.items() if run.ctx.hardness_count[lvl] >= q}
        ex = source.next()
        kept = ex is not None and run.offer(ex)
        if ex is not None:
            source.observe(ex, kept)
        stall = 0 if kept else stall + 1
        if stall >= patience:
            if not run.ctx.quotas:
                break
            run.ctx.quotas = {}  # fill with what the database can give
            run.ctx.extra["mix_relaxed"] = True
            stall = 0
    return attempts


@dataclass(kw_only=True)
class SynthOptions:
    """What to synthesize and how; the fields are documented in ``synthesize``."""

    n: int = 2000
    seed: int = 0
    teacher: Any = None
    log: str | os.PathLike[str] | None = None
    feedback: str | os.PathLike[str] | None = None
    teacher_pairs: int | None = None
    paraphrases: float | None = None
    vote: int = 0
    critics: Sequence[str] = ()
    mix: dict[str, float] | None = None
    valid_fraction: float = 0.1
    prompt_format: PromptFormat | None = None
    template_cap: int | None = None
    per_sql: int = 2
    phrasings: int = 1
    sources: dict[str, float] | None = None
    corpus: str | os.PathLike[str] | None = None
    timeout_s: float = 2.0
    testsuite: Iterable[str | os.PathLike[str]] = ()
    progress: bool = True


def synthesize(target: str | os.PathLike[str], out_dir: str | os.PathLike[str],
               options: SynthOptions | None = None) -> dict[str, Any]:
    """Synthesize about ``n`` validated pairs for ``target`` into ``out_dir``; returns the stats written.

    ``n`` pairs come from user feedback, the query log ``log`` (one SQL per line, optionally
    ``SQL<TAB>db_id``; at most the log's share of ``n``), then the corpus of learned shapes and the template
    sampler, splitting the rest by their ``sources`` shares (``DEFAULT_SOURCES``; ``corpus`` names another
    corpus file than the shipped one). A ``teacher``
    (``sqldistill.synth.teacher.Teacher``) then adds ``teacher_pairs`` new pairs (default: its share of n) and
    ``paraphrases`` paraphrases per kept template question (default 0.5); ``vote`` > 0 keeps only pairs
    whose result the majority of that many teacher SQLs reproduces. ``critics`` names further optional
    critics (distinguishable with ``testsuite`` databases, round_trip). The same seed and inputs give
    byte-identical train.jsonl and valid.jsonl.
    """
    o = options or SynthOptions()
    n, seed, teacher, log, feedback, vote, critics = o.n, o.seed, o.teacher, o.log, o.feedback, o.vote, o.critics
    teacher_pairs, paraphrases, template_cap, timeout_s = o.teacher_pairs, o.paraphrases, o.template_cap, o.timeout_s
    mix, per_sql, phrasings, testsuite = o.mix, o.per_sql, o.phrasings, o.testsuite
    shares = {**DEFAULT_SOURCES, **(o.sources or {})}
    unknown = sorted(set(shares) - set(SOURCES))
    prompt_format, valid_fraction, progress = o.prompt_format, o.valid_fraction, o.progress
    from sqldistill.db import connect, reflect
    from sqldistill.errors import ConfigError
    from sqldistill.synth.graph import build_graph

    started = time.perf_counter()
    if n < 1:
        raise ConfigError(f"n must be at least 1, not {n}", hint="Pass --n with a positive number")
    if unknown or any(v < 0 for v in shares.values()):
        raise ConfigError(f"Bad source mix {o.sources}", hint=f"Shares are non-negative, for {', '.join(SOURCES)}")
    if shares["corpus"] <= 0 and shares["templates"] <= 0:
        raise ConfigError("The source mix gives no share to the corpus or the templates",
                          hint="Give corpus or templates a positive share")
    if teacher is None and (vote or teacher_pairs or paraphrases or "round_trip" in critics):
        raise ConfigError("Teacher pairs, paraphrases, the vote and the round trip need a teacher",
                          hint="Pass --teacher, or leave those options out")
    corpus = None
    if shares["corpus"] > 0:
        from sqldistill.synth.corpus import load_corpus

        corpus = load_corpus(str(o.corpus) if o.corpus else None)
    teacher_pairs = (math.ceil(n * shares["teacher"]) if teacher is not None else 0) if teacher_pairs is None else teacher_pairs
    paraphrases = (0.5 if teacher is not None else 0.0) if paraphrases is None else paraphrases
    optional = [*critics, *(["teacher_vote"] if vote and "teacher_vote" not in critics else [])]
    db = connect(str(target))
    suite = [connect(str(p)) for p in testsuite]
    try:
        schema = reflect(db, samples=3)
        graph = build_graph(db, schema)
        if not any(t.rows for t in graph.tables.values()):
            from sqldistill.errors import EmptyDatabase

            raise EmptyDatabase(f"{schema.db_id} has tables but no rows to ask questions about",
                                hint="Synthesis draws values from the data; load some rows first")
        cap = template_cap if template_cap is not None else max(6, math.ceil(n * 0.01))
        ctx = CriticContext(db=db, schema=schema, timeout_s=timeout_s, teacher=teacher, vote_n=max(vote, 1),
                            testsuite=suite, per_sql=per_sql + math.ceil(paraphrases), template_cap=cap,
                            skeleton_cap=max(cap * 4, math.ceil(n * 0.06)),
                            quotas=quotas(n, mix if mix is not None else DEFAULT_MIX))
        chosen = critics_for(optional)
        extras = teacher_pairs + math.ceil(paraphrases * n)
        with _progress_bar(progress, n + extras, f"synthesizing {schema.db_id}") as tick:
            run = _Run(ctx, chosen, n + extras, tick)
            # Pairs a person or the teacher vouches for are not held to the template mix and caps.
            trusted = tuple(c for c in chosen if c not in (set_critics.hardness_mix, set_critics.template_cap))
            if feedback is not None:
                from sqldistill.synth.feedback import feedback_examples

                for ex in feedback_examples(feedback, schema.db_id):
                    run.offer(_annotate(ex, graph), trusted)
            if log is not None:
                from sqldistill.synth.logmine import mine_log

                budget = len(run.kept) + math.ceil(n * shares["log"])
                for ex in mine_log(log, graph, seed=seed):
                    if len(run.kept) >= min(budget, n):
                        break
                    run.offer(_annotate(ex, graph))
            attempts = 0
            if corpus is not None:
                from sqldistill.synth.corpus import CorpusSource

                rest = n - len(run.kept)
                share = shares["corpus"] / (shares["corpus"] + shares["templates"])
                goal = n if shares["templates"] <= 0 else len(run.kept) + math.ceil(rest * share)
                attempts += _fill(run, CorpusSource(graph, seed, corpus, db), goal, max_attempts=15 * rest + 200)
            if shares["templates"] > 0:
                source = TemplateSource(graph, seed, phrasings=phrasings)
                attempts += _fill(run, source, n, max_attempts=15 * n + 200)
            if teacher is not None and extras:
                from sqldistill.synth.tasks import teacher_candidates

                goal = len(run.kept) + extras
                wanted = {"paraphrase": math.ceil(paraphrases * len(run.kept)), "teacher": teacher_pairs}
                for ex in teacher_candidates(teacher, schema, list(run.kept), rng=random.Random(seed + 1),
                                             paraphrases=wanted["paraphrase"], pairs=wanted["teacher"]):
                    if len(run.kept) >= goal:
                        break
                    if run.sources.get(ex.source, Counter())["kept"] < wanted.get(ex.source, 0):
                        run.offer(_annotate(ex, graph), trusted)
        stats = _stats(run, schema.db_id, n, seed, attempts, teacher, started)
        write_dataset(out_dir, run.kept, run.rejects, stats, schema=schema, fmt=prompt_format, seed=seed,
                      valid_fraction=valid_fraction)
        return stats
    finally:
        db.close()
        for s in suite:
            s.close()


def _annotate(ex: Example, graph: Any) -> Example:
    if not ex.hardness:
        ex.hardness = hardness_for(ex.sql, spider_schema(graph))
    if not ex.db_id:
        ex.db_id = graph.db_id
    return ex


def _stats(run: _Run, db_id: str, n: int, seed: int, attempts: int, teacher: Any, started: float) -> dict[str, Any]:
    hardness = Counter(ex.hardness or "unknown" for ex in run.kept)
    constructs = Counter(str(ex.meta.get("construct", "")) for ex in run.kept if ex.meta.get("construct"))
    by_source_level: dict[str, dict[str, int]] = {}
    for ex in run.kept:
        level = by_source_level.setdefault(ex.source or "unknown", {})
        key = ex.hardness or "unknown"
        level[key] = level.get(key, 0) + 1
    stats: dict[str, Any] = {
        "db_id": db_id,
        "seed": seed,
        "requested": n,
        "kept": len(run.kept),
        "template_attempts": attempts,
        "critics": run.stats.to_dict(),
        "sources": {name: {"candidates": c["candidates"], "kept": c["kept"],
                           "hardness": dict(sorted(by_source_level.get(name, {}).items()))}
                    for name, c in run.sources.items()},
        "hardness": {lvl: hardness.get(lvl, 0) for lvl in ("easy", "medium", "hard", "extra", "unknown")
                     if hardness.get(lvl, 0) or lvl != "unknown"},
        "constructs": dict(sorted(constructs.items())),
        "corpus_wording": dict(sorted(Counter(str(ex.meta["phrasing"]) for ex in run.kept
                                              if ex.source == "corpus" and "phrasing" in ex.meta).items())),
        "distinct_skeletons": len({skeleton(ex.sql) for ex in run.kept}),
        "mix_relaxed": bool(run.ctx.extra.get("mix_relaxed", False)),
        "elapsed_s": round(time.perf_counter() - started, 3),
    }
    if teacher is not None and hasattr(teacher, "usage"):
        stats["teacher"] = teacher.usage.to_dict()
    return stats


class _progress_bar:
    """A rich progress bar over kept examples, or nothing when ``enabled`` is false."""

    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self.enabled = enabled
        self.total = total
        self.label = label
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[int], None] | None:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), transient=False)
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=self.total)
        last = [0.0]

        def tick(done: int) -> None:
            now = time.monotonic()
            if now - last[0] > 0.1 or done >= self.total:
                last[0] = now
                self._progress.update(self._task, completed=done)

        return tick

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


__all__ = ["DEFAULT_MIX", "DEFAULT_SOURCES", "SOURCES", "SynthOptions", "parse_sources", "quotas", "synthesize"]

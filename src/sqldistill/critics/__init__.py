"""Critics: an ordered, visible list of small functions that keep or drop a question/SQL pair.

``DEFAULT_CRITICS`` runs on every candidate; ``OPTIONAL_CRITICS`` are added by name (the teacher vote, the
round trip, test-suite distinguishability). ``judge`` applies a list to one example and stops at the first
drop; ``CriticStats`` counts, per critic, what it checked and what it dropped. A critic that raises is a
bug, yet it still cannot stop a run: ``judge`` turns the exception into a drop that names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqldistill.critics.basic import executes, non_empty, parses, read_only, well_formed
from sqldistill.critics.context import HARDNESS_LEVELS, Critic, CriticContext, SecondOpinion, question_key
from sqldistill.critics.sets import hardness_mix, not_duplicate, template_cap
from sqldistill.critics.teacher import distinguishable, round_trip, teacher_vote
from sqldistill.records import Example, Verdict

# Cheapest first. The set critics look only at what was kept (and every kept example passed them all), so
# running them before the costly ones changes which critic a doomed example is blamed on, never the outcome.
DEFAULT_CRITICS: tuple[Critic, ...] = (
    well_formed,
    not_duplicate,
    template_cap,
    hardness_mix,
    parses,
    read_only,
    executes,
    non_empty,
)

# Added by name, after the default list (they are the costly ones): see ``critics_for``.
OPTIONAL_CRITICS: dict[str, Critic] = {
    "teacher_vote": teacher_vote,
    "distinguishable": distinguishable,
    "round_trip": round_trip,
}


def critic_name(critic: Critic) -> str:
    return getattr(critic, "__name__", type(critic).__name__)


def critics_for(optional: Sequence[str] = ()) -> tuple[Critic, ...]:
    """The default list plus the named optional critics, in the order named."""
    unknown = [n for n in optional if n not in OPTIONAL_CRITICS]
    if unknown:
        from sqldistill.errors import ConfigError

        raise ConfigError(f"Unknown critic {unknown[0]!r}", hint=f"Choose from {', '.join(OPTIONAL_CRITICS)}")
    return (*DEFAULT_CRITICS, *[OPTIONAL_CRITICS[n] for n in optional])


@dataclass
class CriticStats:
    """Per critic: examples checked and dropped, in list order."""

    checked: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {name: {"checked": self.checked[name], "dropped": self.dropped.get(name, 0)}
                for name in self.checked}


def judge(ex: Example, critics: Sequence[Critic], ctx: CriticContext, stats: CriticStats | None = None) -> Verdict:
    """Run ``critics`` in order; the first drop is the verdict. On keep, the example is committed to ``ctx``."""
    for critic in critics:
        name = critic_name(critic)
        if stats is not None:
            stats.checked[name] = stats.checked.get(name, 0) + 1
        try:
            verdict = critic(ex, ctx)
        except Exception as err:
            verdict = Verdict(False, name, f"critic failed: {type(err).__name__}: {err}")
        if not verdict.keep:
            if stats is not None:
                stats.dropped[name] = stats.dropped.get(name, 0) + 1
            return verdict
    ctx.commit(ex)
    return Verdict(True, "all")


__all__ = [
    "DEFAULT_CRITICS",
    "HARDNESS_LEVELS",
    "OPTIONAL_CRITICS",
    "Critic",
    "CriticContext",
    "CriticStats",
    "SecondOpinion",
    "critic_name",
    "critics_for",
    "distinguishable",
    "executes",
    "hardness_mix",
    "judge",
    "non_empty",
    "not_duplicate",
    "parses",
    "question_key",
    "read_only",
    "round_trip",
    "teacher_vote",
    "template_cap",
    "well_formed",
]

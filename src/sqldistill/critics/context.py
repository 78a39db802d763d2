"""What critics may look at: the database, the teacher, and what has been kept so far.

A critic is a small function ``(Example, CriticContext) -> Verdict`` that never raises. The context holds
the read-only database handle, an execution cache (so ``executes``, ``non_empty`` and the teacher vote run a
query once), and the counters the stateful critics (duplicates, template cap, hardness mix) consult. The
counters change only through ``commit``, called once an example has passed every critic, so a drop late in
the list never blocks a later duplicate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqldistill.db.database import Database
from sqldistill.records import Example, ExecResult, Schema, Verdict
from sqldistill.sql.skeleton import normalise, skeleton, template


class SecondOpinion(Protocol):
    """What the teacher critics ask of a teacher (``synth.teacher.Teacher`` answers both); it may raise a
    ``SqlDistillError`` when it cannot answer."""

    def sql_for_question(self, question: str, schema: Schema | None, n: int = 1) -> list[str]: ...

    def question_for_sql(self, sql: str, schema: Schema | None) -> str: ...


Critic = Callable[[Example, "CriticContext"], Verdict]

HARDNESS_LEVELS = ("easy", "medium", "hard", "extra")


def question_key(question: str) -> str:
    return " ".join(question.lower().replace("?", " ").replace(".", " ").split())


@dataclass
class CriticContext:
    db: Database
    schema: Schema | None = None
    timeout_s: float = 5.0
    max_rows: int = 1000
    teacher: SecondOpinion | None = None
    vote_n: int = 3
    testsuite: Sequence[Database] = ()
    per_sql: int = 2  # how many questions one SQL may keep (paraphrases are welcome, floods are not)
    template_cap: int = 40  # examples per template (the SQL with its values abstracted)
    skeleton_cap: int = 10**9  # examples per skeleton (tables, columns and values abstracted)
    quotas: dict[str, int] = field(default_factory=dict)  # hardness -> most examples; empty: no mix limit
    results: dict[str, ExecResult] = field(default_factory=dict)
    sql_count: Counter[str] = field(default_factory=Counter)
    questions: set[str] = field(default_factory=set)
    template_count: Counter[str] = field(default_factory=Counter)
    skeleton_count: Counter[str] = field(default_factory=Counter)
    hardness_count: Counter[str] = field(default_factory=Counter)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def execute(self, sql: str) -> ExecResult:
        """Execute once per distinct SQL; later critics reuse the result."""
        res = self.results.get(sql)
        if res is None:
            # a steady timeout: which pairs pass must not depend on how busy the machine is
            res = self.db.execute(sql, timeout_s=self.timeout_s, max_rows=self.max_rows, steady=True)
            if len(self.results) > 20000:
                self.results.clear()
            self.results[sql] = res
        return res

    def commit(self, ex: Example) -> None:
        """Record a kept example in the counters of the stateful critics."""
        self.sql_count[normalise(ex.sql)] += 1
        self.questions.add(question_key(ex.question))
        self.template_count[template(ex.sql)] += 1
        self.skeleton_count[skeleton(ex.sql)] += 1
        self.hardness_count[ex.hardness or "unknown"] += 1


__all__ = ["HARDNESS_LEVELS", "Critic", "CriticContext", "SecondOpinion", "question_key"]

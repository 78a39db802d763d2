"""What the teacher is asked: new pairs (few-shot), paraphrases, SQL for a question, a question for SQL.

Prompts are package data files in ``prompts/`` (``string.Template`` placeholders, so SQL braces are safe).
Every answer is read in one forgiving format, ``Question: ...`` / ``SQL: ...`` lines (code fences and
numbering are ignored), which any instruction-following model can produce.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from importlib import resources
from string import Template
from typing import TypeVar

from sqldistill.db.render import render_schema
from sqldistill.errors import TeacherError
from sqldistill.records import Example, Schema
from sqldistill.synth.teacher import ChatRequest, Message, Teacher

_FENCE = re.compile(r"```[a-zA-Z]*")
_LINE_PREFIX = re.compile(r"^\s*(?:\d+[.)]\s*|[-*]\s*)")


@lru_cache(maxsize=16)
def load_prompt(name: str) -> Template:
    text = resources.files("sqldistill.synth").joinpath(f"prompts/{name}.md").read_text(encoding="utf-8")
    return Template(text)


def _messages(name: str, **values: object) -> list[Message]:
    return [{"role": "system", "content": load_prompt("system").safe_substitute()},
            {"role": "user", "content": load_prompt(name).safe_substitute(**values)}]


def _schema_text(schema: Schema | None) -> str:
    return render_schema(schema, style="create", samples=3) if schema is not None else "(schema not given)"


def _clean(text: str) -> list[str]:
    return [_LINE_PREFIX.sub("", line).strip() for line in _FENCE.sub("", text).splitlines()]


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """Question/SQL pairs from ``Question: ...`` and ``SQL: ...`` lines; SQL may continue over lines."""
    pairs: list[tuple[str, str]] = []
    question, sql_lines = "", list[str]()
    for line in [*_clean(text), "Question:"]:
        low = line.lower()
        if low.startswith("question:"):
            if question and sql_lines:
                pairs.append((question, " ".join(sql_lines).strip().rstrip(";")))
            question, sql_lines = line.split(":", 1)[1].strip(), []
        elif low.startswith("sql:"):
            sql_lines = [line.split(":", 1)[1].strip()]
        elif sql_lines and line:
            sql_lines.append(line)
    return [(q, s) for q, s in pairs if q and s]


def parse_questions(text: str) -> list[str]:
    out = [line.split(":", 1)[1].strip() for line in _clean(text) if line.lower().startswith("question:")]
    return [q for q in out if q]


def parse_sql(text: str) -> str:
    lines = _clean(text)
    for i, line in enumerate(lines):
        if line.lower().startswith("sql:"):
            rest = [line.split(":", 1)[1].strip()]
            for more in lines[i + 1:]:
                if not more or more.lower().startswith(("question:", "sql:")):
                    break
                rest.append(more)
            return " ".join(rest).strip().rstrip(";")
    first = next((line for line in lines if line.upper().startswith(("SELECT", "WITH"))), "")
    return first.rstrip(";")


def sql_for_question(teacher: Teacher, question: str, schema: Schema | None, n: int = 1) -> list[str]:
    """``n`` SQL answers for ``question`` (sampled when n > 1, so the votes can differ)."""
    dialect = schema.dialect if schema is not None else "sqlite"
    messages = _messages("sql_for_question", schema=_schema_text(schema), question=question, dialect=dialect)
    temperature = float(getattr(teacher, "temperature", 0.7)) if n > 1 else 0.0
    answers = teacher.chat(messages, n=n, temperature=temperature, max_tokens=256, seed=0)
    return [parse_sql(a) for a in answers]


def question_for_sql(teacher: Teacher, sql: str, schema: Schema | None) -> str:
    dialect = schema.dialect if schema is not None else "sqlite"
    messages = _messages("question_for_sql", schema=_schema_text(schema), sql=sql, dialect=dialect)
    found = parse_questions(teacher.chat(messages, n=1, temperature=0.0, max_tokens=128)[0])
    return found[0] if found else ""


def paraphrase_request(question: str, sql: str, k: int = 1, seed: int = 0, temperature: float = 0.8) -> ChatRequest:
    return ChatRequest.of(_messages("paraphrase", question=question, sql=sql, k=k), n=1, temperature=temperature,
                          max_tokens=64 * k + 32, seed=seed)


def paraphrase(teacher: Teacher, question: str, sql: str, k: int = 2) -> list[str]:
    return parse_questions(teacher.request(paraphrase_request(question, sql, k))[0])[:k]


def generate_request(schema: Schema, shots: Sequence[Example], k: int, seed: int,
                     temperature: float = 0.8) -> ChatRequest:
    examples = "\n".join(f"Question: {ex.question}\nSQL: {ex.sql}" for ex in shots)
    messages = _messages("generate", schema=_schema_text(schema), examples=examples, k=k, dialect=schema.dialect)
    return ChatRequest.of(messages, n=1, temperature=temperature, max_tokens=120 * k + 64, seed=seed)


_A = TypeVar("_A")


def _all_failed_is_an_error(answers: list[_A]) -> list[_A]:
    errors = [a for a in answers if isinstance(a, TeacherError)]
    if answers and len(errors) == len(answers):
        raise errors[0]
    return answers


def teacher_candidates(teacher: Teacher, schema: Schema, kept: Sequence[Example], rng: random.Random,
                       paraphrases: int = 0, pairs: int = 0, pairs_per_request: int = 5, shots: int = 8,
                       batch: int = 16) -> Iterator[Example]:
    """Candidates from the teacher: ``paraphrases`` rewrites of kept template questions, then about ``pairs``
    new few-shot pairs.

    Requests go out in batches under the teacher's concurrency limit and answers come back in request
    order, so a seed fixes the candidates (and the cache makes a rerun free). About 1.5 times what is
    wanted is asked for, since critics drop some.
    """
    pool = [ex for ex in kept if ex.source == "template"] or list(kept)
    if not pool:
        return
    temperature = float(getattr(teacher, "temperature", 0.8))
    n_para = math.ceil(paraphrases * 1.5)
    n_gen = math.ceil(pairs * 1.5 / pairs_per_request)
    sources = [pool[rng.randrange(len(pool))] for _ in range(n_para)]
    para = [paraphrase_request(ex.question, ex.sql, 1, seed=i, temperature=temperature) for i, ex in enumerate(sources)]
    # One failed request is skipped; a teacher that answers none of a whole batch is down, and that is an error
    # (the run stops cleanly and a rerun resumes) rather than a silently smaller dataset.
    for start in range(0, len(para), batch):
        answers = _all_failed_is_an_error(teacher.chat_many(para[start:start + batch]))
        for ex, answer in zip(sources[start:start + batch], answers):
            if isinstance(answer, TeacherError):
                continue
            for text in parse_questions(answer[0])[:1]:
                yield Example(question=text, sql=ex.sql, db_id=ex.db_id, source="paraphrase", hardness=ex.hardness,
                              meta={"construct": ex.meta.get("construct", ""), "paraphrase_of": ex.question})
    gen = [generate_request(schema, [pool[rng.randrange(len(pool))] for _ in range(min(shots, len(pool)))],
                            pairs_per_request, seed=i, temperature=temperature) for i in range(n_gen)]
    for start in range(0, len(gen), batch):
        for answer in _all_failed_is_an_error(teacher.chat_many(gen[start:start + batch])):
            if isinstance(answer, TeacherError):
                continue
            for question, sql in parse_pairs(answer[0]):
                yield Example(question=question, sql=sql, db_id=schema.db_id, source="teacher",
                              meta={"construct": "teacher"})


__all__ = [
    "generate_request",
    "load_prompt",
    "paraphrase",
    "paraphrase_request",
    "parse_pairs",
    "parse_questions",
    "parse_sql",
    "question_for_sql",
    "sql_for_question",
    "teacher_candidates",
]

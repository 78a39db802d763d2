"""The one prompt renderer, shared by training, evaluation and serving.

A prompt is plain text that ends where the SQL starts, so it suits both from-scratch students (trained on
``prompt + completion``) and pretrained causal LMs. A student specialised to one database may leave the
schema out (``schema_style="none"``): its prompt is then just the question, which makes it much faster.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from sqldistill.db.render import render_schema
from sqldistill.records import Schema

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class PromptFormat:
    schema_style: str = "none"  # none | compact | create
    samples: int = 0  # sample values per column inside the schema block

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> PromptFormat:
        d = d or {}
        return cls(schema_style=d.get("schema_style", "none"), samples=int(d.get("samples", 0)))


def normalise_question(question: str) -> str:
    return _SPACES.sub(" ", question).strip()


def normalise_sql(sql: str) -> str:
    """Whitespace-normalised SQL without a trailing semicolon: the form every completion takes."""
    return _SPACES.sub(" ", sql).strip().rstrip(";").strip()


def render_prompt(question: str, schema: Schema | None = None, fmt: PromptFormat | None = None) -> str:
    fmt = fmt or PromptFormat()
    parts = []
    if schema is not None and fmt.schema_style != "none":
        parts.append(render_schema(schema, style=fmt.schema_style, samples=fmt.samples))
    parts.append(f"Question: {normalise_question(question)}\nSQL:")
    return "\n\n".join(parts)


def render_completion(sql: str) -> str:
    return " " + normalise_sql(sql)


def extract_sql(generated: str) -> str:
    """The SQL part of a model's continuation: up to the first blank line or next ``Question:``."""
    text = generated.split("\nQuestion:", 1)[0].split("\n\n", 1)[0]
    return normalise_sql(text)

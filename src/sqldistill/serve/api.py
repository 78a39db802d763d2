"""Request and response bodies of the HTTP API; the OpenAPI spec is generated from these."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUESTION_CHARS = 2000
MAX_SQL_CHARS = 20_000


def _encodable(text: str, what: str) -> str:
    # JSON allows lone surrogates ("\ud800"); tokenizers and UTF-8 files do not.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"the {what} holds characters that are not valid Unicode") from None
    if "\x00" in text:
        raise ValueError(f"the {what} holds a NUL character")
    return text


class ErrorDetail(BaseModel):
    type: str = Field(description="Error class, e.g. UnsafeSQL, QueryTimeout, Unauthorized.")
    message: str
    hint: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class SqlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="A question in plain words.")
    execute: bool = Field(True, description="Run the SQL on the database and return rows.")
    max_rows: int | None = Field(None, ge=0, description="Rows to return at most; the server caps this at its own limit.")

    @field_validator("question")
    @classmethod
    def _question(cls, v: str) -> str:
        v = _encodable(v, "question")
        if not v.strip():
            raise ValueError("the question is blank")
        return v


class ResultError(BaseModel):
    kind: Literal["refused", "timeout", "error", "generation"] | str
    message: str


class SqlResponse(BaseModel):
    request_id: str
    question: str
    sql: str = Field(description="The SQL the model wrote (empty when it wrote none).")
    executed: bool
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool = Field(description="More rows exist than were returned.")
    error: ResultError | None = Field(None, description="Why the SQL could not run, when it could not.")
    latency_ms: float


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    sql: str = Field(min_length=1, max_length=MAX_SQL_CHARS, description="The corrected SQL.")
    model_sql: str | None = Field(None, max_length=MAX_SQL_CHARS, description="What the model had answered.")

    @field_validator("question", "sql", "model_sql")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = _encodable(v, "text")
        if not v.strip():
            raise ValueError("the text is blank")
        return v


class FeedbackResponse(BaseModel):
    stored: bool = Field(description="False when the same question and SQL were already stored.")
    id: str
    sql: str
    hardness: str
    columns: list[str]
    rows: list[list[Any]] = Field(description="A preview of the corrected SQL's rows.")
    row_count: int
    truncated: bool


class DriftInfo(BaseModel):
    drifted: bool
    expected_fingerprint: str
    actual_fingerprint: str
    tables_added: list[str]
    tables_removed: list[str]
    columns: list[dict[str, str]]
    foreign_keys: list[str]
    changes: list[str]


class ModelCard(BaseModel):
    name: str
    path: str
    db_id: str
    schema_fingerprint: str
    method: str
    base_model: str
    created: str
    num_parameters: int


class DatabaseInfo(BaseModel):
    db_id: str
    dialect: str
    schema_fingerprint: str | None


class HealthResponse(BaseModel):
    status: Literal["ok", "drifted", "degraded"]
    model: ModelCard
    database: DatabaseInfo
    drift: DriftInfo | None
    drift_error: str | None
    decoding: str = Field(description="how answers are decoded: greedy, or guided (execution-guided)")
    uptime_s: float


__all__ = [
    "DriftInfo",
    "ErrorBody",
    "ErrorDetail",
    "FeedbackRequest",
    "FeedbackResponse",
    "HealthResponse",
    "SqlRequest",
    "SqlResponse",
]

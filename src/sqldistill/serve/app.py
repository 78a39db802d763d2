"""The HTTP app: own API, OpenAI-compatible API, health, metrics and the web page.

Routes (all JSON unless noted; ``/v1/*``, ``/health`` and ``/metrics`` need ``Authorization: Bearer KEY`` when
the server was started with an API key; the page and the OpenAPI spec never do, they hold no data):

- ``POST /v1/sql``               question -> SQL, and rows when ``execute`` (the default)
- ``POST /v1/feedback``          a corrected SQL for a question, validated, stored in ``feedback.jsonl``
- ``POST /v1/chat/completions``  OpenAI-compatible; the assistant's content is the SQL
- ``GET  /v1/models``            OpenAI-compatible model list (the one served model)
- ``GET  /health``               model, schema fingerprints, drift
- ``GET  /metrics``              Prometheus text format
- ``GET  /``                     the web page (``static/``)

Library errors become ``{"error": {"type", "message", "hint"}}`` with a 4xx status here, at the edge.
"""

from __future__ import annotations

import hmac
import http
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from sqldistill import __version__
from sqldistill.errors import (
    ConnectionFailed,
    DataError,
    QueryFailed,
    QueryTimeout,
    SqlDistillError,
    SQLError,
    UnsafeSQL,
)
from sqldistill.serve.api import (
    ErrorBody,
    FeedbackRequest,
    FeedbackResponse,
    HealthResponse,
    SqlRequest,
    SqlResponse,
)
from sqldistill.serve.chat import (
    ChatRequest,
    ChatResponse,
    ModelEntry,
    ModelList,
    completion,
    decoding_options,
    question_of,
    stream_events,
)
from sqldistill.serve.feedback import validate_correction
from sqldistill.serve.guard import jsonable_rows
from sqldistill.serve.metrics import CONTENT_TYPE
from sqldistill.serve.service import Answer, SqlService

FEEDBACK_PREVIEW_ROWS = 20
KNOWN_PATHS = frozenset({"/", "/health", "/metrics", "/v1/sql", "/v1/feedback", "/v1/chat/completions",
                         "/v1/models", "/openapi.json", "/docs"})
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The request was understood but refused (see error.message)."},
    503: {"model": ErrorBody, "description": "The database cannot be reached."},
}
LOG = logging.getLogger("sqldistill.serve")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class Unauthorized(Exception):
    pass


class MetricsMiddleware:
    """Counts every HTTP request by endpoint and status, and times it. Plain ASGI: no per-request task overhead."""

    def __init__(self, app: ASGIApp, service: SqlService) -> None:
        self.app = app
        self.metrics = service.metrics

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = scope.get("path", "")
            endpoint = path if path in KNOWN_PATHS else ("/static" if path.startswith("/static/") else "other")
            code = status[0]
            self.metrics.inc("requests_total", endpoint=endpoint, status=str(code))
            self.metrics.observe("request_latency_seconds", time.perf_counter() - started, endpoint=endpoint)
            kind = "auth" if code == 401 else "invalid" if code in (400, 404, 405, 422) else "server" if code >= 500 else ""
            if kind:
                self.metrics.inc("errors_total", endpoint=endpoint, kind=kind)


def _error(status: int, kind: str, message: str, hint: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"type": kind, "message": message, "hint": hint}}
    return JSONResponse(body, status_code=status, headers=headers)


def _status_for(err: SqlDistillError) -> int:
    return 503 if isinstance(err, ConnectionFailed) else 400


def _bearer_guard(api_key: str | None) -> list[Any]:
    if not api_key:
        return []
    scheme = HTTPBearer(auto_error=False, description="The key given to the server with --api-key-env.")
    expected = api_key.encode()

    def require_key(creds: HTTPAuthorizationCredentials | None = Depends(scheme)) -> None:
        given = (creds.credentials if creds is not None else "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            raise Unauthorized()

    return [Depends(require_key)]


def _page() -> str:
    return resources.files("sqldistill.serve").joinpath("static/index.html").read_text(encoding="utf-8")


def create_app(service: SqlService, api_key: str | None = None) -> FastAPI:
    """The app over one loaded service. ``api_key`` turns on bearer authentication for the data routes."""
    app = FastAPI(
        title="sqldistill",
        version=__version__,
        summary=f"Text-to-SQL for the {service.info.db_id} database, answered by the {service.info.name} model.",
        docs_url="/docs",
        redoc_url=None,
    )
    guard = _bearer_guard(api_key)
    protected: dict[int | str, dict[str, Any]] = (
        {401: {"model": ErrorBody, "description": "Missing or wrong API key."}} if api_key else {}
    )
    page = _page()

    app.add_middleware(MetricsMiddleware, service=service)  # type: ignore[arg-type]
    app.mount("/static", StaticFiles(packages=[("sqldistill.serve", "static")]), name="static")

    @app.exception_handler(Unauthorized)
    async def unauthorized(_req: Request, _err: Unauthorized) -> JSONResponse:
        return _error(401, "Unauthorized", "a valid API key is required",
                      "Send the header 'Authorization: Bearer <key>'", headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(HTTPException)
    async def http_error(_req: Request, err: HTTPException) -> JSONResponse:
        # Malformed JSON, unknown paths, wrong methods: the same error shape as everything else.
        try:
            kind = http.HTTPStatus(err.status_code).phrase.replace(" ", "")
        except ValueError:
            kind = "HTTPError"
        return _error(err.status_code, kind, str(err.detail), None, headers=dict(err.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_req: Request, err: RequestValidationError) -> Response:
        # FastAPI's own handler echoes the input back as UTF-8 and fails (500) on a lone surrogate; escape it.
        body = json.dumps({"detail": jsonable_encoder(err.errors())}, ensure_ascii=True, default=str)
        return Response(body, status_code=422, media_type="application/json")

    @app.exception_handler(SqlDistillError)
    async def library_error(_req: Request, err: SqlDistillError) -> JSONResponse:
        return _error(_status_for(err), type(err).__name__, err.message, err.hint)

    @app.exception_handler(Exception)
    async def internal_error(req: Request, err: Exception) -> JSONResponse:
        # A bug: the client gets the same JSON shape, the operator gets the traceback in the server's log.
        LOG.exception("internal error answering %s %s", req.method, req.url.path)
        return _error(500, "InternalError", f"internal error: {type(err).__name__}",
                      "This is a bug in sqldistill; the server log has the details")

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    @app.post("/v1/sql", response_model=SqlResponse, dependencies=guard, responses={**ERROR_RESPONSES, **protected},
              summary="Answer a question with SQL (and its rows)")
    async def ask_sql(req: SqlRequest) -> dict[str, Any]:
        answer = await service.answer(req.question, execute=req.execute, max_rows=req.max_rows)
        return answer.to_dict()

    @app.post("/v1/feedback", response_model=FeedbackResponse, dependencies=guard,
              responses={**ERROR_RESPONSES, **protected, 503: {"model": ErrorBody, "description": "Feedback is off, or the database cannot be reached."}},
              summary="Store a corrected SQL for the next training round")
    def feedback(req: FeedbackRequest) -> Any:
        store = service.feedback
        if store is None:
            return _error(503, "FeedbackDisabled", "corrections are not stored: the server has no run directory",
                          "Start the server with --run-dir")
        check = validate_correction(req.question.strip(), req.sql.strip(), service.db, service.guard)
        if not check.ok:
            cls = {"invalid": DataError, "syntax": SQLError, "refused": UnsafeSQL, "timeout": QueryTimeout}.get(
                check.error_kind, QueryFailed)
            hint = ("Ask a question of a few words" if check.error_kind == "invalid"
                    else "Send one read-only SELECT that runs on this database")
            raise cls(f"Correction not stored ({check.critic}): {check.reason}", hint=hint)
        drift, _ = service.check_drift()
        fingerprint = drift.actual_fingerprint if drift is not None else service.info.fingerprint
        res = check.result
        record, stored = store.add(req.question, req.sql, db_id=service.db.db_id, fingerprint=fingerprint,
                                   model=service.info.name, model_sql=req.model_sql, rows=len(res.rows))
        service.metrics.inc("feedback_total", stored=str(stored).lower())
        preview = res.rows[:FEEDBACK_PREVIEW_ROWS]
        return {"stored": stored, "id": record["meta"]["id"], "sql": record["sql"], "hardness": record["hardness"],
                "columns": list(res.columns), "rows": jsonable_rows(preview), "row_count": len(res.rows),
                "truncated": res.truncated or len(res.rows) > len(preview)}

    @app.post("/v1/chat/completions", response_model=ChatResponse, dependencies=guard,
              responses={200: {"content": {"text/event-stream": {}}}, **ERROR_RESPONSES, **protected},
              summary="OpenAI-compatible chat completion; the answer is SQL")
    async def chat_completions(req: ChatRequest) -> Any:
        started = time.perf_counter()
        question = question_of(req.messages)
        candidates = await service.generate(question, **decoding_options(req))
        answer = Answer("", question, candidates[0] if candidates else "", candidates,
                        latency_ms=(time.perf_counter() - started) * 1000)
        resp = completion(service.info.name, service.info.fingerprint, question, candidates or [""],
                          getattr(service.predictor, "count_tokens", None))
        answer.request_id = resp.id
        service.record(answer, "/v1/chat/completions")
        if req.stream:
            return StreamingResponse(stream_events(resp), media_type="text/event-stream")
        return resp

    @app.get("/v1/models", response_model=ModelList, dependencies=guard, responses=protected,
             summary="OpenAI-compatible list of the served model")
    async def models() -> ModelList:
        return ModelList(data=[ModelEntry(id=service.info.name, created=int(service.started))])

    @app.get("/health", response_model=HealthResponse, dependencies=guard, responses=protected,
             summary="Model, schema fingerprints and drift")
    def health() -> dict[str, Any]:
        return service.health()

    @app.get("/metrics", dependencies=guard, responses={200: {"content": {CONTENT_TYPE: {}}}, **protected},
             response_class=Response, summary="Prometheus metrics")
    def metrics() -> Response:
        service.check_drift()  # keeps the drift gauge fresh for scrapers (cached between checks)
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    return app


__all__ = ["create_app"]

"""schemathesis against the app's own OpenAPI spec: generated requests, valid (positive) and invalid (negative),
never cause a server error, and every response matches what the spec documents (status codes, content types,
bodies)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqldistill.serve.app import create_app
from sqldistill.serve.guard import Guardrails
from sqldistill.serve.service import SqlService
from tests.test_serve_student import singer_copy, tiny_student

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402  (after the skip: hypothesis comes with schemathesis)
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

# Modest by default so the suite stays well under a minute; raise it for a deeper run.
EXAMPLES = int(os.environ.get("SQLDISTILL_SCHEMATHESIS_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def service(spider_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlService]:
    student = tiny_student(spider_dir, tmp_path_factory)
    where = tmp_path_factory.mktemp("serve-schemathesis")
    svc = SqlService.load(student, str(singer_copy(spider_dir, where / "db")), run_dir=where / "run",
                          guard=Guardrails(max_rows_limit=20, timeout_s=0.5), max_new_tokens=48)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def api_schema(service: SqlService) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(service))


# One test per operation; the spec itself is checked to hold exactly these, so a new route cannot go untested.
OPERATIONS = [("POST", "/v1/sql"), ("POST", "/v1/feedback"), ("POST", "/v1/chat/completions"),
              ("GET", "/v1/models"), ("GET", "/health"), ("GET", "/metrics")]


def test_the_spec_holds_exactly_the_tested_operations(api_schema: Any) -> None:
    found = {(op.method.upper(), op.path) for op in (r.ok() for r in api_schema.get_all_operations())}
    assert found == set(OPERATIONS)


# Negative data needs something to break: only the operations that take a body get it.
CASES = [(m, p, "positive") for m, p in OPERATIONS] + [(m, p, "negative") for m, p in OPERATIONS if m == "POST"]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_no_server_errors_and_responses_match_the_spec(api_schema: Any, method: str, path: str, mode: str) -> None:
    from hypothesis import given

    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

    run()

"""The HTTP app in-process (ASGI): answers, limits, validation, feedback, request log, metrics, auth, the page."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sqldistill.records import Example
from sqldistill.serve.app import create_app
from sqldistill.serve.feedback import read_feedback
from sqldistill.serve.guard import Guardrails
from sqldistill.serve.requestlog import read_request_log
from sqldistill.serve.service import SqlService
from tests.test_serve_student import PAIRS, singer_copy, tiny_student

GOLD = dict(PAIRS)


@pytest.fixture(scope="module")
def student(spider_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_student(spider_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def service(student: Path, spider_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlService]:
    where = tmp_path_factory.mktemp("serve-app")
    db = singer_copy(spider_dir, where / "db")
    svc = SqlService.load(student, str(db), run_dir=where / "run", guard=Guardrails(max_rows_limit=5, timeout_s=1.0))
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def client(service: SqlService) -> Iterator[TestClient]:
    with TestClient(create_app(service)) as c:
        yield c


def _rows(db: Path, sql: str) -> list[list[Any]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [list(r) for r in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def test_sql_answers_with_the_students_sql_and_its_rows(client: TestClient, service: SqlService) -> None:
    question = "What are the names of singers from France?"
    resp = client.post("/v1/sql", json={"question": question})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["sql"] == GOLD[question]
    assert body["executed"] is True and body["error"] is None
    assert body["columns"] == ["Name"]
    assert body["rows"] == _rows(Path(service.db.target.location), GOLD[question])
    assert body["row_count"] == 1 and body["latency_ms"] > 0


def test_execute_false_returns_sql_without_running_it(client: TestClient) -> None:
    body = client.post("/v1/sql", json={"question": "How many songs are there?", "execute": False}).json()
    assert body["sql"] == GOLD["How many songs are there?"]
    assert body["executed"] is False and body["rows"] == [] and body["columns"] == []


@pytest.mark.parametrize(("asked", "expected_rows"), [(2, 2), (10**30, 5), (None, 5), (0, 0)])
def test_row_cap_is_the_servers_even_when_a_request_asks_for_more(
    client: TestClient, asked: int | None, expected_rows: int
) -> None:
    payload: dict[str, Any] = {"question": "List the names of all singers."}  # 8 rows in the database
    if asked is not None:
        payload["max_rows"] = asked
    body = client.post("/v1/sql", json=payload).json()
    assert body["sql"] == "SELECT Name FROM singer"
    assert body["row_count"] == expected_rows == len(body["rows"])
    assert body["truncated"] is True


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"question": ""},
        {"question": "   "},
        {"question": "x" * 2001},
        {"question": "How many singers? \ud800"},
        {"question": "nul\u0000byte"},
        {"question": "How many singers are there?", "max_rows": -1},
        {"question": "How many singers are there?", "sql": "DROP TABLE singer"},
        {"question": 12},
    ],
)
def test_invalid_requests_get_422_with_a_reason(client: TestClient, payload: dict[str, Any]) -> None:
    resp = client.post("/v1/sql", content=json.dumps(payload), headers={"Content-Type": "application/json"})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["msg"]


def test_request_log_records_each_answer_with_hardness(client: TestClient, service: SqlService) -> None:
    client.post("/v1/sql", json={"question": "Show each citizenship and the number of singers with it."})
    client.post("/v1/sql", json={"question": "Which singer has the largest net worth?", "execute": False})
    service.request_log.flush()
    assert service.run_dir is not None
    lines = read_request_log(service.run_dir / "requests.jsonl")
    by_question = {line["question"]: line for line in lines}
    grouped = by_question["Show each citizenship and the number of singers with it."]
    assert grouped["sql"] == "SELECT Citizenship, count(*) FROM singer GROUP BY Citizenship"
    assert grouped["ok"] is True and grouped["error"] is None and grouped["executed"] is True
    expected = len(_rows(Path(service.db.target.location), grouped["sql"]))
    assert grouped["rows"] == min(expected, 5) and grouped["truncated"] is (expected > 5)
    assert grouped["latency_ms"] > 0 and grouped["endpoint"] == "/v1/sql"
    assert grouped["hardness"] == "medium"
    top = by_question["Which singer has the largest net worth?"]
    assert top["executed"] is False and top["hardness"] == "medium"
    assert {"time", "request_id"} <= set(top)


def test_health_reports_model_fingerprint_and_no_drift(client: TestClient, service: SqlService) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["model"]["db_id"] == "singer" and body["model"]["method"] == "sft"
    assert body["model"]["num_parameters"] > 100_000
    assert body["model"]["schema_fingerprint"] == service.info.fingerprint == body["database"]["schema_fingerprint"]
    assert body["drift"]["drifted"] is False and body["drift"]["changes"] == []


def test_metrics_are_prometheus_text_with_requests_errors_and_latency(client: TestClient) -> None:
    client.post("/v1/sql", json={"question": "How many singers are there?"})
    client.post("/v1/sql", json={"question": ""})
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = resp.text
    assert "# TYPE sqldistill_requests_total counter" in text
    assert "# TYPE sqldistill_request_latency_seconds histogram" in text
    ok = [line for line in text.splitlines() if line.startswith('sqldistill_requests_total{endpoint="/v1/sql",status="200"}')]
    assert ok and float(ok[0].split()[-1]) >= 1
    assert 'sqldistill_errors_total{endpoint="/v1/sql",kind="invalid"}' in text
    assert 'sqldistill_request_latency_seconds_bucket{endpoint="/v1/sql",le="+Inf"}' in text
    assert 'sqldistill_schema_drift 0' in text
    for _ in range(3):  # a repeated answer: the later ones are guessed ahead from the first (speculative steps)
        client.post("/v1/sql", json={"question": "List the names of all singers."})
    text = client.get("/metrics").text
    drafted = float(next(x for x in text.splitlines() if x.startswith("sqldistill_draft_tokens_total ")).split()[-1])
    kept = float(next(x for x in text.splitlines() if x.startswith("sqldistill_draft_accepted_total ")).split()[-1])
    assert 0 < kept <= drafted
    count = next(line for line in text.splitlines() if line.startswith('sqldistill_request_latency_seconds_count{endpoint="/v1/sql"}'))
    inf = next(line for line in text.splitlines()
               if line.startswith('sqldistill_request_latency_seconds_bucket{endpoint="/v1/sql",le="+Inf"}'))
    assert count.split()[-1] == inf.split()[-1]


def test_feedback_stores_a_valid_correction_in_the_documented_format(client: TestClient, service: SqlService) -> None:
    question = "Which singers were born after 1948?"
    resp = client.post("/v1/feedback", json={"question": question, "model_sql": "SELECT Name FROM singer",
                                             "sql": "SELECT Name FROM singer\n WHERE Birth_Year > 1948;"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["stored"] is True and body["columns"] == ["Name"]
    assert body["rows"] == _rows(Path(service.db.target.location), "SELECT Name FROM singer WHERE Birth_Year > 1948")
    assert service.run_dir is not None
    records = read_feedback(service.run_dir / "feedback.jsonl")
    rec = next(r for r in records if r["meta"]["id"] == body["id"])
    assert rec["question"] == question and rec["sql"] == "SELECT Name FROM singer WHERE Birth_Year > 1948"
    assert rec["db_id"] == "singer" and rec["source"] == "feedback" and rec["hardness"] == "easy"
    assert rec["meta"]["model_sql"] == "SELECT Name FROM singer"
    assert rec["meta"]["schema_fingerprint"] == service.info.fingerprint and rec["meta"]["rows"] == body["row_count"]
    example = Example.from_dict(rec)
    assert example.sql == rec["sql"] and example.source == "feedback"
    synth_feedback = pytest.importorskip("sqldistill.synth.feedback")  # the consumer: synth --from-feedback
    read_back = list(synth_feedback.feedback_examples(service.run_dir / "feedback.jsonl", db_id="singer"))
    assert (question, rec["sql"]) in {(ex.question, ex.sql) for ex in read_back}
    again = client.post("/v1/feedback", json={"question": question, "sql": "SELECT Name FROM singer WHERE Birth_Year > 1948"})
    assert again.status_code == 200 and again.json()["stored"] is False
    assert len([r for r in read_feedback(service.run_dir / "feedback.jsonl") if r["question"] == question]) == 1


@pytest.mark.parametrize(
    ("question", "sql", "error_type", "needle"),
    [
        ("Which singers are rich?", "SELEC Name FROM singer", "SQLError", "(parses): does not parse"),
        ("Which singers are rich?", "SELECT 1; SELECT 2", "SQLError", "holds 2 statements"),
        ("Which singers are rich?", "SELECT nope FROM singer", "QueryFailed", "no such column"),
        ("Which singers are rich?", "DELETE FROM singer", "UnsafeSQL", "(read_only): not a read-only query"),
        ("Which singers are rich?",
         "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
         "QueryTimeout", "ran longer than 1 s"),
        ("singers", "SELECT Name FROM singer", "DataError", "(well_formed): the question has fewer than 2 words"),
    ],
)
def test_feedback_rejects_what_the_critics_reject(
    client: TestClient, service: SqlService, question: str, sql: str, error_type: str, needle: str
) -> None:
    assert service.run_dir is not None
    path = service.run_dir / "feedback.jsonl"
    before = path.read_text() if path.exists() else ""
    resp = client.post("/v1/feedback", json={"question": question, "sql": sql})
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["type"] == error_type and needle in err["message"] and err["hint"]
    assert err["message"].startswith("Correction not stored")
    assert (path.read_text() if path.exists() else "") == before


def test_chat_completions_in_process_json_and_stream(client: TestClient, service: SqlService) -> None:
    question = "How many singers are there?"
    body = client.post("/v1/chat/completions", json={
        "model": "anything", "messages": [{"role": "system", "content": "You write SQL."},
                                          {"role": "user", "content": f"Schema: ...\nQuestion: {question}\nSQL:"}],
    }).json()
    assert body["object"] == "chat.completion" and body["model"] == service.info.name
    assert body["choices"][0]["message"] == {"role": "assistant", "content": GOLD[question]}
    assert body["system_fingerprint"] == service.info.fingerprint
    assert body["usage"]["completion_tokens"] > 0
    with client.stream("POST", "/v1/chat/completions",
                       json={"messages": [{"role": "user", "content": question}], "stream": True}) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert text == GOLD[question]
    no_user = client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "hi"}]})
    assert no_user.status_code == 400 and "no user message" in no_user.json()["error"]["message"]


def test_page_and_assets_are_served_self_contained(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert '<label for="question">' in html and 'role="alert"' in html and 'lang="en"' in html
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "/v1/feedback" in js.text and "innerHTML" not in js.text
    assert client.get("/static/app.css").status_code == 200


def test_api_key_guards_data_routes_but_not_the_page(service: SqlService) -> None:
    with TestClient(create_app(service, api_key="s3cret-key")) as c:
        for method, path, payload in [("post", "/v1/sql", {"question": "How many singers are there?"}),
                                      ("get", "/health", None), ("get", "/metrics", None), ("get", "/v1/models", None),
                                      ("post", "/v1/feedback", {"question": "q", "sql": "SELECT 1"})]:
            bare = getattr(c, method)(path, json=payload) if payload else getattr(c, method)(path)
            assert bare.status_code == 401, path
            assert bare.headers["www-authenticate"] == "Bearer"
            assert bare.json()["error"]["type"] == "Unauthorized"
            wrong = c.request(method.upper(), path, json=payload, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
        ok = c.post("/v1/sql", json={"question": "How many singers are there?"},
                    headers={"Authorization": "Bearer s3cret-key"})
        assert ok.status_code == 200 and ok.json()["rows"] == [[8]]
        assert c.get("/").status_code == 200
        spec = c.get("/openapi.json").json()
        assert any(s.get("scheme") == "bearer" for s in spec["components"]["securitySchemes"].values())
        assert "401" in spec["paths"]["/v1/sql"]["post"]["responses"]


def test_openapi_spec_describes_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/v1/sql", "/v1/feedback", "/v1/chat/completions", "/v1/models", "/health",
                                  "/metrics"}
    sql_op = spec["paths"]["/v1/sql"]["post"]
    assert "400" in sql_op["responses"] and "422" in sql_op["responses"]
    assert "text/event-stream" in spec["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]


def test_unknown_paths_bad_json_and_bugs_all_answer_in_the_error_shape(service: SqlService) -> None:
    app = create_app(service)

    @app.get("/boom")
    def boom() -> None:  # stands in for a bug anywhere in a route
        raise ZeroDivisionError("division by zero")

    with TestClient(app, raise_server_exceptions=False) as c:
        missing = c.get("/nope")
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFound"
        bad = c.post("/v1/sql", content=b"{not json", headers={"Content-Type": "application/json"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["type"] == "json_invalid"
        crash = c.get("/boom")
        assert crash.status_code == 500
        assert crash.json()["error"] == {"type": "InternalError", "message": "internal error: ZeroDivisionError",
                                         "hint": "This is a bug in sqldistill; the server log has the details"}
        assert 'sqldistill_errors_total{endpoint="other",kind="server"}' in c.get("/metrics").text

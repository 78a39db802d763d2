"""The teacher clients against a real OpenAI-compatible HTTP server on loopback, serving a tiny local model.

The model is built here (random init from a tiny Llama config, a BPE tokenizer trained on the fly) and
taught to answer every chat with one question/SQL pair; no hub download, no mocked client.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqldistill.critics import CriticContext, judge, teacher_vote
from sqldistill.db import connect, reflect
from sqldistill.errors import ConfigError, TeacherError
from sqldistill.records import Example
from sqldistill.synth.tasks import parse_pairs, parse_questions, parse_sql, sql_for_question
from sqldistill.synth.teacher import ChatRequest, LocalTeacher, OpenAITeacher, make_teacher
from tests.helpers.teacher_server import ANSWER, TeacherServer, build_tiny_teacher

pytestmark = pytest.mark.slow

HELLO = [{"role": "user", "content": "Write one sqlite query that answers the question below."}]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_teacher(tmp_path_factory.mktemp("tiny-teacher"))


@pytest.fixture(scope="module")
def server(model_dir: Path) -> Iterator[TeacherServer]:
    with TeacherServer(model_dir, api_key="sk-test-123") as srv:
        yield srv


@pytest.fixture()
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SQLD_TEST_TEACHER_KEY", "sk-test-123")
    return "SQLD_TEST_TEACHER_KEY"


def _teacher(server: TeacherServer, key: str, tmp_path: Path, **kw: object) -> OpenAITeacher:
    return OpenAITeacher(server.url, "tiny-teacher", api_key_env=key, cache_dir=tmp_path / "cache", **kw)  # type: ignore[arg-type]


def test_chat_over_http_then_from_cache(server: TeacherServer, key: str, tmp_path: Path) -> None:
    teacher = _teacher(server, key, tmp_path, price_per_1k_input=1.0, price_per_1k_output=2.0)
    before = server.requests
    answer = teacher.chat(HELLO)
    assert answer == [ANSWER]
    assert server.requests == before + 1
    usage = teacher.usage
    assert usage.requests == 1 and usage.cache_hits == 0
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.cost == pytest.approx((usage.prompt_tokens * 1.0 + usage.completion_tokens * 2.0) / 1000)
    again = _teacher(server, key, tmp_path)  # a new client, the same cache folder
    assert again.chat(HELLO) == answer
    assert server.requests == before + 1, "the cached request went over HTTP again"
    assert again.usage.cache_hits == 1 and again.usage.requests == 0
    files = list((tmp_path / "cache").rglob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["request"]["model"] == "tiny-teacher"


def test_n_answers_and_servers_that_ignore_n(server: TeacherServer, key: str, tmp_path: Path) -> None:
    teacher = _teacher(server, key, tmp_path)
    votes = sql_for_question(teacher, "How many singers are there?", None, n=3)
    assert votes == ["SELECT count(*) FROM singer"] * 3
    server.ignore_n = True
    try:
        before = server.requests
        answers = teacher.chat(HELLO, n=2, temperature=0.5, seed=7)
        assert len(answers) == 2 and server.requests == before + 2
    finally:
        server.ignore_n = False


def test_retries_with_backoff_on_503(server: TeacherServer, key: str, tmp_path: Path) -> None:
    teacher = _teacher(server, key, tmp_path, backoff_s=0.01, max_retries=3)
    server.fail_next = 2
    assert teacher.chat(HELLO, seed=1) == [ANSWER]
    assert teacher.usage.retries == 2 and teacher.usage.failures == 0


def test_gives_up_with_a_clear_error(server: TeacherServer, key: str, tmp_path: Path) -> None:
    teacher = _teacher(server, key, tmp_path, backoff_s=0.01, max_retries=1)
    server.fail_next = 5
    try:
        with pytest.raises(TeacherError, match="failed after 2 tries"):
            teacher.chat(HELLO, seed=2)
    finally:
        server.fail_next = 0
    assert teacher.usage.failures == 1


def test_wrong_key_names_the_variable(server: TeacherServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SQLD_WRONG_KEY", "nope")
    teacher = OpenAITeacher(server.url, "tiny-teacher", api_key_env="SQLD_WRONG_KEY", cache_dir=tmp_path, backoff_s=0.01)
    with pytest.raises(TeacherError) as err:
        teacher.chat(HELLO, seed=3)
    assert "HTTP 401" in err.value.message and "$SQLD_WRONG_KEY" in (err.value.hint or "")


def test_unreachable_endpoint(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    teacher = OpenAITeacher(f"http://127.0.0.1:{port}/v1", "m", cache_dir=tmp_path, backoff_s=0.01, max_retries=1)
    with pytest.raises(TeacherError, match="failed after 2 tries"):
        teacher.chat(HELLO)


def test_concurrency_limit_and_order(server: TeacherServer, key: str, tmp_path: Path) -> None:
    teacher = _teacher(server, key, tmp_path, concurrency=2)
    server.max_in_flight = 0
    server.delay_s = 0.05
    try:
        reqs = [ChatRequest.of(HELLO, seed=100 + i) for i in range(6)]
        answers = teacher.chat_many(reqs)
    finally:
        server.delay_s = 0.0
    assert [a for a in answers] == [[ANSWER]] * 6
    assert 1 <= server.max_in_flight <= 2


def test_local_transformers_teacher(model_dir: Path, tmp_path: Path) -> None:
    teacher = make_teacher(str(model_dir), cache_dir=tmp_path)
    assert isinstance(teacher, LocalTeacher)
    answer = teacher.chat(HELLO)[0]
    assert parse_pairs(answer) == [("How many singers are there?", "SELECT count(*) FROM singer")]
    assert teacher.chat(HELLO)[0] == answer and teacher.usage.cache_hits == 1


def test_make_teacher_refuses_bad_specs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a model name"):
        make_teacher("http://localhost:1/v1")
    with pytest.raises(ConfigError, match="neither an http"):
        make_teacher(str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="not a transformers model"):
        make_teacher(str(tmp_path))


def test_answer_parsing_is_forgiving() -> None:
    text = "```\n1. Question: How many heads?\nSQL: SELECT count(*)\n  FROM head;\n- Question: Names?\nSQL: SELECT name FROM head\n```"
    assert parse_pairs(text) == [("How many heads?", "SELECT count(*) FROM head"), ("Names?", "SELECT name FROM head")]
    assert parse_questions(text) == ["How many heads?", "Names?"]
    assert parse_sql("Sure!\nSQL: SELECT 1;") == "SELECT 1"
    assert parse_sql("SELECT name FROM t") == "SELECT name FROM t"


def test_teacher_vote_keeps_what_the_majority_reproduces(server: TeacherServer, key: str, tmp_path: Path,
                                                         tmp_sqlite_copy) -> None:  # type: ignore[no-untyped-def]
    path = tmp_sqlite_copy("singer")
    teacher = _teacher(server, key, tmp_path)
    with connect(str(path)) as db:
        ctx = CriticContext(db=db, schema=reflect(db, samples=2), teacher=teacher, vote_n=3)
        # the teacher always answers SELECT count(*) FROM singer
        same = Example("How many singers do we have?", "SELECT count(*) FROM singer")
        other = Example("What are the names of the singers?", "SELECT Name FROM singer")
        assert judge(same, (teacher_vote,), ctx).keep
        verdict = judge(other, (teacher_vote,), ctx)
    assert not verdict.keep and verdict.critic == "teacher_vote"
    assert "majority (3/3) returns another result" in verdict.reason


def test_synthesize_with_teacher_end_to_end_and_cached_rerun(server: TeacherServer, key: str, tmp_path: Path,
                                                             tmp_sqlite_copy) -> None:  # type: ignore[no-untyped-def]
    from sqldistill.synth import SynthOptions, synthesize

    path = tmp_sqlite_copy("singer")
    runs = []
    for name in ("a", "b"):
        teacher = _teacher(server, key, tmp_path)  # same cache folder both times
        before = server.requests
        stats = synthesize(path, tmp_path / name, SynthOptions(n=40, seed=3, teacher=teacher, teacher_pairs=4,
                                                               paraphrases=0.2, progress=False))
        runs.append((stats, server.requests - before, teacher.usage))
    (first, sent_first, usage_first), (_, sent_second, usage_second) = runs
    assert sent_first > 0 and usage_first.requests == sent_first
    assert sent_second == 0, "the second run sent HTTP requests despite the cache"
    assert usage_second.cache_hits == usage_first.requests + usage_first.cache_hits
    assert {"paraphrase", "teacher"} <= set(first["sources"])
    assert first["teacher"]["requests"] == sent_first
    for name in ("train.jsonl", "valid.jsonl", "rejects.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    rows = [json.loads(line) for line in (tmp_path / "a" / "train.jsonl").read_text().splitlines()]
    rows += [json.loads(line) for line in (tmp_path / "a" / "valid.jsonl").read_text().splitlines()]
    rejects = [json.loads(line) for line in (tmp_path / "a" / "rejects.jsonl").read_text().splitlines()]
    teacher_rows = [r for r in rows + rejects if r["source"] in ("teacher", "paraphrase")]
    assert teacher_rows, "no teacher candidate reached the critics"
    kept_teacher = [r for r in rows if r["source"] == "teacher"]
    assert all(r["sql"] == "SELECT count(*) FROM singer" for r in kept_teacher)
    assert all(r["critic"] and r["reason"] for r in rejects)

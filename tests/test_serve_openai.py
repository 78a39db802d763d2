"""The official ``openai`` client against a real uvicorn server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqldistill.serve.app import create_app
from sqldistill.serve.service import SqlService
from tests.test_serve_student import PAIRS, live_server, singer_copy, tiny_student

openai = pytest.importorskip("openai")

GOLD = dict(PAIRS)
KEY = "sk-local-test-key"


@pytest.fixture(scope="module")
def student(spider_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_student(spider_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def served(student: Path, spider_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    where = tmp_path_factory.mktemp("serve-openai")
    svc = SqlService.load(student, str(singer_copy(spider_dir, where / "db")), run_dir=where / "run")
    with live_server(create_app(svc, api_key=KEY)) as url:
        yield {"url": url, "service": svc}
    svc.close()


def _client(url: str, key: str = KEY) -> Any:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)


def test_openai_client_gets_the_sql_as_the_assistant_message(served: dict[str, Any]) -> None:
    client = _client(served["url"])
    question = "Show the names of singers and the titles of their songs."
    resp = client.chat.completions.create(
        model="whatever", messages=[{"role": "system", "content": "Answer with SQL only."},
                                    {"role": "user", "content": question}], temperature=0)
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].message.content == GOLD[question]
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == served["service"].info.name
    assert resp.usage is not None and resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens


def test_openai_client_several_candidates_and_streaming(served: dict[str, Any]) -> None:
    client = _client(served["url"])
    question = "How many songs are there?"
    several = client.chat.completions.create(model="m", messages=[{"role": "user", "content": question}], n=3)
    contents = [c.message.content for c in several.choices]
    assert contents[0] == GOLD[question] and len(set(contents)) == len(contents) and 1 <= len(contents) <= 3
    assert [c.index for c in several.choices] == list(range(len(contents)))
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": question}], stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == GOLD[question]


def test_openai_client_lists_the_model_and_is_refused_without_the_key(served: dict[str, Any]) -> None:
    models = _client(served["url"]).models.list()
    assert [m.id for m in models.data] == [served["service"].info.name]
    with pytest.raises(openai.AuthenticationError):
        _client(served["url"], key="wrong").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "How many singers are there?"}])
    with pytest.raises(openai.BadRequestError) as info:
        _client(served["url"]).chat.completions.create(model="m", messages=[{"role": "assistant", "content": "hi"}])
    assert "no user message" in str(info.value)


def test_our_own_teacher_client_can_use_a_served_student(served: dict[str, Any], monkeypatch: Any) -> None:
    teacher_mod = pytest.importorskip("sqldistill.synth.teacher")
    monkeypatch.setenv("SQLDISTILL_TEST_TEACHER_KEY", KEY)
    teacher = teacher_mod.OpenAITeacher(served["url"] + "/v1", model="student",
                                        api_key_env="SQLDISTILL_TEST_TEACHER_KEY", max_retries=0)
    try:
        question = "What is the average net worth of singers?"
        prompt = f"Write SQLite SQL for the singer database.\nQuestion: {question}\nSQL:"
        answers = teacher.chat([{"role": "system", "content": "You are a SQL expert."},
                                {"role": "user", "content": prompt}], n=2, temperature=0.0)
        assert answers[0] == GOLD[question] and len(answers) == 2
        assert teacher.usage.completion_tokens > 0 and teacher.usage.failures == 0
    finally:
        teacher.close()

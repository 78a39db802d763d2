"""A real browser on the web page: headless Debian Chromium, driven by Playwright, against a real server.

It types a question, sees the SQL and the rows, corrects the SQL and sends it; the correction must land in
``feedback.jsonl``. A refused correction must show its error on the page.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqldistill.serve.app import create_app
from sqldistill.serve.feedback import read_feedback
from sqldistill.serve.service import SqlService
from tests.test_serve_student import live_server, singer_copy, tiny_student

CHROMIUM = os.environ.get("SQLDISTILL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    with sync_api.sync_playwright() as pw:
        try:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        except Exception as err:  # a browser that cannot start here is an environment problem, not a bug
            pytest.skip(f"chromium at {CHROMIUM} did not start: {str(err).splitlines()[0]}")
        yield b
        b.close()


@pytest.fixture(scope="module")
def served(spider_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    student = tiny_student(spider_dir, tmp_path_factory)
    where = tmp_path_factory.mktemp("serve-browser")
    svc = SqlService.load(student, str(singer_copy(spider_dir, where / "db")), run_dir=where / "run")
    with live_server(create_app(svc, api_key="page-key")) as url:
        yield {"url": url, "run": where / "run"}
    svc.close()


def test_ask_see_sql_and_rows_then_send_a_correction(browser: Any, served: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    problems: list[str] = []
    expected = ("status of 401", "status of 400")  # the two refusals this test provokes on purpose
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not any(e in m.text for e in expected) else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(served["url"] + "/")
    expect(page.get_by_role("heading", name="Ask your database")).to_be_visible()

    # without the key the server says so, and the page shows it as an alert
    page.get_by_label("Question").fill("What are the names of singers from France?")
    page.get_by_role("button", name="Ask").click()
    expect(page.get_by_role("alert")).to_contain_text("API key")

    page.get_by_text("Settings").click()
    page.get_by_label("API key").fill("page-key")
    page.get_by_label("Question").press("Enter")
    sql_box = page.locator("#sql")
    expect(sql_box).to_have_value("SELECT Name FROM singer WHERE Citizenship = 'France'")
    expect(page.get_by_role("alert")).to_be_hidden()
    table = page.locator("#result")
    expect(table.locator("thead th")).to_have_text(["Name"])
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody td").first).to_have_text("Liliane Bettencourt")
    expect(page.get_by_role("status")).to_contain_text("1 row")

    # a wrong correction is refused with a clear message, and nothing is stored
    sql_box.fill("DELETE FROM singer")
    page.get_by_role("button", name="Send correction").click()
    expect(page.get_by_role("alert")).to_contain_text("not a read-only query")
    assert not (served["run"] / "feedback.jsonl").exists()

    corrected = "SELECT Name FROM singer WHERE Citizenship = 'United States'"
    sql_box.fill(corrected)
    page.get_by_role("button", name="Send correction").click()
    expect(page.get_by_role("status")).to_have_text("Correction stored. Thank you.")
    expect(table.locator("tbody tr")).to_have_count(4)
    expect(page.get_by_role("alert")).to_be_hidden()

    records = read_feedback(served["run"] / "feedback.jsonl")
    assert len(records) == 1
    assert records[0]["question"] == "What are the names of singers from France?"
    assert records[0]["sql"] == corrected
    assert records[0]["meta"]["model_sql"] == "SELECT Name FROM singer WHERE Citizenship = 'France'"
    assert not problems, problems
    page.close()


def test_page_is_keyboard_usable_and_labelled(browser: Any, served: dict[str, Any]) -> None:
    page = browser.new_page()
    page.goto(served["url"] + "/")
    assert page.evaluate("document.activeElement.id") == "question"  # focus starts where typing happens
    for control in ("question", "api-key", "max-rows", "sql"):
        label = page.locator(f"label[for='{control}']")
        assert label.count() == 1 and (label.text_content() or "").strip(), control
    assert page.locator("[role=alert]").count() == 1 and page.locator("[role=status]").count() == 1
    page.close()

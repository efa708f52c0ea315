"""The signed-in person view in real headless Chromium: sign in, search with a purpose, a timeline, review."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import running_server
from safertogether.api import create_app
from test_attacks import PASSWORD, SHARED, build_people_world
from test_browser import browser  # noqa: F401 (the shared headless Chromium fixture)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def people_server(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[tuple[str, object]]:
    folder = tmp_path_factory.mktemp("people-page")
    warehouse = build_people_world(str(folder / "people.duckdb"), folder, data_dir)
    try:
        with running_server(create_app(warehouse)) as url:
            yield url, warehouse
    finally:
        warehouse.close()


@pytest.fixture
def page(browser) -> Iterator[object]:  # noqa: F811 (the fixture imported above)
    """A fresh browser context (no cookies) per test; any JavaScript error fails the test."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _sign_in(page, url: str, user: str) -> None:
    page.goto(f"{url}/people")
    page.focus("#user-id")
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#work:not([hidden])", timeout=20_000)


def test_the_page_is_locked_down_and_holds_no_person_data(people_server):
    url, _warehouse = people_server
    answer = httpx.get(f"{url}/people")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store, private"
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "<script>" not in answer.text  # no inline script for the policy to allow


def test_a_caseworker_signs_in_searches_and_reads_a_timeline_with_the_keyboard(page, people_server):
    url, warehouse = people_server
    person = warehouse.scalar(f"SELECT person_id FROM person_ids GROUP BY person_id HAVING {SHARED} "
                              "ORDER BY person_id LIMIT 1")
    row = warehouse.query("""SELECT p.forename, p.surname FROM person_ids k JOIN person_records p
        USING (agency, record_id) WHERE k.person_id = ? AND p.agency = 'leicestershire-council'
        AND p.surname IS NOT NULL LIMIT 1""", [person])[0]
    _sign_in(page, url, "c1")
    assert "leicestershire-council" in page.inner_text("#who")
    assert "safer_session" not in page.evaluate("document.cookie")  # HttpOnly: no script can read it
    page.keyboard.press("Tab")  # focus starts on the purpose
    page.select_option("#purpose", "safeguarding")
    page.focus("#name")
    page.keyboard.type(f"{row['forename']} {row['surname']}")
    page.keyboard.press("Enter")
    page.wait_for_selector("#candidates .result", timeout=20_000)
    buttons = page.locator("#candidates .result")
    target = [i for i in range(buttons.count()) if person in buttons.nth(i).inner_text()]
    assert target, page.inner_text("#candidates")
    buttons.nth(target[0]).focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#profile:not([hidden])", timeout=20_000)
    assert page.inner_text("#profile-heading") == f"Person {person}"
    table = page.inner_text("#timeline")
    assert "leicestershire-police" in table and "withheld" in table and "surname" in table
    assert page.evaluate("document.activeElement.id") == "profile"


def test_a_reviewer_accepts_a_link_and_the_change_carries_the_csrf_token(page, people_server):
    url, warehouse = people_server
    _sign_in(page, url, "r1")
    page.select_option("#purpose", "safeguarding")
    page.focus("#load-review")
    page.keyboard.press("Enter")
    page.wait_for_selector("#pairs li button", timeout=20_000)
    page.locator("#pairs li button", has_text="Different people").first.click()
    page.wait_for_selector("#pairs li:has-text('recorded as different')", timeout=20_000)
    assert warehouse.scalar("SELECT count(*) FROM link_decisions WHERE reviewer = 'r1'") == 1
    page.focus("#sign-out")
    page.keyboard.press("Enter")
    page.wait_for_selector("#sign-in:not([hidden])", timeout=20_000)

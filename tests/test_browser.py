"""The web app end to end in headless Chromium: search, read an article, fit a phone screen."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from archive.models import SearchQuery
from web import create_app
from web.extension import close_archive

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 375, "height": 812}


def _unavailable(reason: str) -> None:
    """Skip, except on CI, where a browser test that cannot run is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}, and CI must run the browser tests")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium; skipped when absent, except on CI where it must be there."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_url(seeded_archive):
    """The app over HTTP on a free loopback port, served by waitress in a thread."""
    import waitress

    app = create_app({"DATA_DIR": str(seeded_archive.config.data_dir)})
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=10)
    server.task_dispatcher.shutdown()
    close_archive(app)


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors of every page a test opens: a CSP violation or a script error shows here."""
    return []


@pytest.fixture
def page_factory(chromium, console_errors):
    """Opens pages in fresh browser contexts, closed after the test."""
    contexts = []

    def open_page(viewport=None):
        context = chromium.new_context(viewport=viewport or {"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: _record_error(message, console_errors))
        return page

    yield open_page
    for context in contexts:
        context.close()


def _record_error(message, errors: list[str]) -> None:
    # An error page's own 4xx status is logged too; it is expected, not a fault of the page.
    if message.type == "error" and "server responded with a status of 4" not in message.text:
        errors.append(message.text)


def test_search_then_read_the_article(live_url, page_factory, console_errors):
    page = page_factory()
    page.goto(live_url + "/")
    page.get_by_label("Search the archive").fill("CEOP")
    page.get_by_role("button", name="Search").click()

    page.wait_for_url("**/search?q=CEOP*")
    mark = page.locator(".hit__snippet mark", has_text="CEOP").first
    mark.wait_for()
    assert mark.inner_text() == "CEOP"
    assert page.locator(".results-head__title").inner_text().startswith("1 result")

    page.locator(".hit", has=mark).locator(".hit__title a").click()
    page.wait_for_url("**/articles/*")
    assert "Peter Davies, chief executive of CEOP" in page.locator(".article__body").inner_text()
    evidence = page.locator(".topic-row.is-assigned .evidence__term", has_text="ceop")
    assert evidence.count() == 1 and evidence.is_visible()
    assert page.locator(".topic-row meter").count() == 4

    page.get_by_role("link", name="Back to results").click()
    page.wait_for_url("**/search?q=CEOP*")
    assert console_errors == []


def test_topic_facet_narrows_in_the_browser(live_url, page_factory, console_errors):
    page = page_factory()
    page.goto(live_url + "/search?q=images")
    assert page.locator(".hit").count() == 2
    links = page.locator(".facet--topic .facet__link")
    narrower = [link for link in links.all() if int(link.locator(".facet__count").inner_text()) == 1]
    assert narrower, "the two seeds differ in at least one topic"
    label = narrower[0].locator(".facet__label").inner_text()
    narrower[0].click()
    page.wait_for_url("**topic=*")
    assert page.locator(".hit").count() == 1
    assert page.locator(".chip", has_text=label).is_visible()
    assert console_errors == []


@pytest.mark.parametrize(
    "path", ["/", "/search?q=CEOP", "/search?q=%22online+harms", "/articles/{id}", "/articles/nope"]
)
def test_phone_width_has_no_horizontal_scroll(live_url, page_factory, console_errors, seeded_archive, path):
    article_id = seeded_archive.search(SearchQuery(q="CEOP")).hits[0].id
    page = page_factory(PHONE)
    page.goto(live_url + path.format(id=article_id))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("main form[role=search], header form[role=search]").first.is_visible()
    assert console_errors == []


def test_facets_fold_away_on_phones_and_open_on_tap(live_url, page_factory):
    page = page_factory(PHONE)
    page.goto(live_url + "/search?q=images")
    first_facet = page.locator(".facet--topic .facet__link").first
    assert not first_facet.is_visible()
    page.locator(".facets__summary").click()
    assert first_facet.is_visible()

    wide = page_factory()
    wide.goto(live_url + "/search?q=images")
    assert wide.locator(".facet--topic .facet__link").first.is_visible()  # a sidebar, always open

"""The web app end to end in headless Chromium: search, read an article, fit a phone screen."""

from __future__ import annotations

import csv
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from archive.models import SearchQuery
from archive.service import Archive
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
SIGNIN_PAGE = re.compile(r".*/signin\?next=.*")


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


@contextmanager
def serving(data_dir: Path) -> Iterator[str]:
    """The app over HTTP on a free loopback port, served by waitress in a thread."""
    import waitress

    app = create_app({"DATA_DIR": str(data_dir)})
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    stop = threading.Event()

    def serve() -> None:
        # Short polls until told to stop, so the socket is closed only after the loop has
        # left select(): closing it under a running select() raised EBADF in the thread.
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()
        server.asyncore.close_all(server._map)  # the listener, its trigger and open connections
        close_archive(app)


@pytest.fixture
def live_url(seeded_archive):
    with serving(seeded_archive.config.data_dir) as url:
        yield url


@pytest.fixture(scope="module")
def samples_url(tmp_path_factory):
    """The app serving the bundled sample articles (30 reports over 15 years)."""
    from ingest.pipeline import ingest_refs
    from ingest.sources import expand_sources

    data_dir = tmp_path_factory.mktemp("samples") / "data"
    with Archive(data_dir) as arch:
        refs, _ = expand_sources([str(Path(__file__).resolve().parent.parent / "archive" / "samples")])
        assert all(o.status == "added" for o in ingest_refs(arch, refs))
    with serving(data_dir) as url:
        yield url


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


def results_count(page) -> int:
    return int(page.locator(".results-head__title").inner_text().split()[0].replace(",", ""))


def test_a_researchers_walk_through_search(samples_url, page_factory, console_errors, tmp_path):
    """Search, narrow by topic and dates, sort, page, export, then read an article and one like it."""
    page = page_factory()
    page.goto(samples_url + "/")
    page.get_by_label("Search the archive").fill("child")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/search?q=child*")
    everything = results_count(page)
    assert page.locator("svg.timeline__chart a.timeline__bar").count() > 3

    page.locator(".facet--topic .facet__link", has_text="Law enforcement").click()
    page.wait_for_url("**topic=law_enforcement*")
    by_topic = results_count(page)
    assert 10 < by_topic < everything
    assert page.locator(".chip", has_text="Topic: Law enforcement").is_visible()

    page.get_by_label("From", exact=True).fill("2010")
    page.get_by_label("To", exact=True).fill("2026-12")
    page.get_by_role("button", name="Apply dates").click()
    page.wait_for_url("**from=2010*")
    assert page.locator(".chip", has_text="From: 2010").is_visible()
    assert results_count(page) > 10  # two pages

    page.get_by_label("Sort results").select_option("newest")
    page.locator("main").get_by_role("button", name="Search").click()
    page.wait_for_url("**sort=newest*")
    dates = page.locator(".hit__meta time").evaluate_all("nodes => nodes.map(n => n.getAttribute('datetime'))")
    assert dates == sorted(dates, reverse=True) and len(dates) == 10

    page.get_by_role("link", name="Next →").click()
    page.wait_for_url("**page=2*")
    assert page.locator(".pagination__page.is-current").inner_text() == "2"
    total = results_count(page)
    assert page.locator(".hit").count() == total - 10

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    saved = tmp_path / "export.csv"
    download.value.save_as(saved)
    with saved.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == total and all("law_enforcement" in r["topics"] for r in rows)

    first = page.locator(".hit__title a").first
    title = first.inner_text()
    first.click()
    page.wait_for_url("**/articles/*")
    assert page.locator("h1.article__title").inner_text() == title
    similar = page.locator("#more-like-this ~ .related__list a.related__title").first
    similar_title = similar.inner_text()
    similar.click()
    page.wait_for_url("**/articles/*")
    assert page.locator("h1.article__title").inner_text() == similar_title
    assert console_errors == []


def test_timeline_bar_narrows_by_keyboard(samples_url, page_factory, console_errors):
    page = page_factory()
    page.goto(samples_url + "/search?q=police")
    bar = page.locator("svg.timeline__chart a.timeline__bar").first
    label = bar.get_attribute("aria-label")
    year = label[:4]
    bar.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**from={year}-01-01*")
    assert page.locator(".chip", has_text=f"Year: {year}").is_visible()
    assert results_count(page) == int(label.split(": ")[1].split()[0])
    assert console_errors == []


@pytest.fixture
def editor_url(seeded_archive):
    seeded_archive.accounts.add_user("ed", "correct horse battery staple", "editor")
    with serving(seeded_archive.config.data_dir) as url:
        yield url


def test_an_editor_signs_in_uploads_corrects_and_signs_out(editor_url, page_factory, console_errors, tmp_path):
    upload = tmp_path / "operation-kestrel.html"
    upload.write_text(
        "<html><head><title>Operation Kestrel ends with 12 arrests</title></head><body><article>"
        "<h1>Operation Kestrel ends with 12 arrests</h1>"
        + "<p>Police in three counties arrested 12 people in Operation Kestrel, an inquiry into online grooming "
        "of children on gaming platforms. Detectives seized devices and charged four men.</p>"
        * 4
        + "</article></body></html>",
        encoding="utf-8",
    )
    page = page_factory()
    page.goto(editor_url + "/ingest")
    page.wait_for_url(SIGNIN_PAGE)
    page.get_by_label("Name").fill("ed")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ingest")

    page.get_by_label("Choose one or more files").set_input_files(str(upload))
    page.get_by_role("button", name="Add to the archive").click()
    outcome = page.locator(".outcome--added")
    outcome.wait_for()
    assert "operation-kestrel.html" in outcome.inner_text()

    page.get_by_role("link", name="topic-archive, home").click()
    page.locator("main").get_by_label("Search the archive").fill("Kestrel")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=Kestrel*")
    page.locator(".hit__title a", has_text="Operation Kestrel").click()
    page.wait_for_url("**/articles/*")

    row = page.locator(".topic-row", has_text="Policy")
    assert row.locator(".topic-row__state").text_content() == "Not assigned"
    row.get_by_role("button", name="Add Policy").click()
    page.wait_for_url("**/articles/*#topics")
    row = page.locator(".topic-row", has_text="Policy")
    assert row.locator(".topic-row__state").text_content() == "Assigned"
    assert "A person’s decision: added by ed" in row.inner_text()
    assert page.locator(".article__header .badge", has_text="Policy").is_visible()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/search")
    assert page.get_by_role("link", name="Sign in").is_visible()
    page.goto(editor_url + "/ingest")
    page.wait_for_url(SIGNIN_PAGE)
    assert console_errors == []

"""The Sources page and /api/sources through the test client: what readers see, what only editors may do
(behind CSRF), adding through a page, polling now, pausing, resuming, removing, the audit log, friendly
400s that change nothing, and hostile names and errors shown as text.

A local feed server on loopback (tests/test_follow.py) plays the feeds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup

from archive.serialize import source_to_dict
from archive.service import Archive
from tests.conftest import make_app
from tests.test_docs import problems
from tests.test_follow import FeedServer, _serve
from tests.test_web_auth import PASSWORD, archive_of, csrf_token, signed_in
from web.extension import close_archive
from web.openapi import openapi_document

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
SETTINGS = {"fetch_allow_private": True, "feed_fetch_links": False}


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    yield from _serve("127.0.0.1")


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    with Archive(path) as arch:
        arch.accounts.add_user("ed", PASSWORD, "editor")
        arch.accounts.add_user("rita", PASSWORD, "reader")
    return path


@pytest.fixture
def app(data_dir):
    app = make_app(data_dir, ARCHIVE_SETTINGS=SETTINGS)
    yield app
    close_archive(app)


@pytest.fixture
def live(app, feeds):
    """A followed feed that works and has not been polled."""
    return archive_of(app).sources.add("Live News", feeds.url("/live.xml"), 1800)


@pytest.fixture
def paused(app, feeds):
    """A second followed feed, paused."""
    source = archive_of(app).sources.add("Dormant", feeds.url("/shared/trafilatura/feed1.atom"), 3600)
    return archive_of(app).sources.set_paused(source.id, True)


def snapshot(app) -> tuple:
    arch = archive_of(app)
    sources = [(s.id, s.name, s.url, s.status, s.polls, s.every_seconds, s.on_topic_only) for s in arch.sources.list()]
    return sources, arch.count(), len(arch.accounts.audit_log())


def soup_of(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def row_of(page: BeautifulSoup, name: str):
    """The table row of the source called `name`."""
    for row in page.select("table.sources__table tbody tr"):
        if row.select_one(".source__name").text == name:
            return row
    raise AssertionError(f"{name} is not listed")


def post(client, path: str, data: dict | None = None, **kwargs):
    return client.post(path, data={"csrf_token": csrf_token(client, "/sources"), **(data or {})}, **kwargs)


# Every route that changes sources, with the form it needs; {live} and {paused} are source ids.
CHANGES = [
    ("/sources", lambda feeds: {"url": feeds.url("/shared/trafilatura/feed1.atom"), "every": "1h"}),
    ("/sources/{live}/poll", lambda feeds: {}),
    ("/sources/{live}/pause", lambda feeds: {}),
    ("/sources/{paused}/resume", lambda feeds: {}),
    ("/sources/{live}/remove", lambda feeds: {}),
]


def test_the_tables_hold_every_route_that_changes_sources(app):
    posted = {
        re.sub(r"<int:source_id>", "{id}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("sources.") and "POST" in (rule.methods or ())
    }
    assert posted == {re.sub(r"\{\w+\}", "{id}", path) for path, _ in CHANGES}


# -- who may see and change what ------------------------------------------------------------------


@pytest.mark.parametrize("who", [None, "rita"])
def test_readers_see_the_sources_but_no_editor_controls(app, live, paused, who):
    client = signed_in(app, who) if who else app.test_client()
    page = soup_of(client.get("/sources"))
    assert [row.select_one(".source__name").text for row in page.select("tbody tr")] == ["Dormant", "Live News"]
    row = row_of(page, "Live News")
    assert row.select_one(".source-status").text == "New"
    assert row_of(page, "Dormant").select_one(".source-status").text == "Paused"
    link = row.select_one("a[href='" + live.url + "']")
    assert link.text == live.url and set(link["rel"]) >= {"noopener", "nofollow"}
    assert "every article" in row.text.lower() and "never" in row.text
    assert page.select("main form") == [] and page.select("main button") == []
    assert "Follow a source" not in page.text and not page.select("input[name=url]")


def test_editors_see_a_control_per_source_and_the_add_form(app, live, paused):
    page = soup_of(signed_in(app, "ed").get("/sources"))
    actions = {
        (form["action"], form.button.text) for form in page.select("table form") if form.select("[name=csrf_token]")
    }
    assert actions == {
        (f"/sources/{live.id}/poll", "Poll now: Live News"),
        (f"/sources/{live.id}/pause", "Pause: Live News"),
        (f"/sources/{live.id}/remove", "Stop following: Live News"),
        (f"/sources/{paused.id}/poll", "Poll now: Dormant"),
        (f"/sources/{paused.id}/resume", "Resume: Dormant"),
        (f"/sources/{paused.id}/remove", "Stop following: Dormant"),
    }
    form = page.select_one("form[action='/sources']")
    assert form["method"] == "post" and form.select_one("[name=csrf_token]")["value"]
    for name in ("url", "name", "every", "on_topic_only"):
        control = form.select_one(f"[name={name}]")
        assert page.select_one(f"label[for={control['id']}]") is not None, name  # every control is labelled
    assert form.select_one("[name=every]")["value"] == "30m"
    assert "30m, 2h, 1d" in form.text and form.select_one("[name=on_topic_only]")["type"] == "checkbox"


@pytest.mark.parametrize("who, form_shown", [("rita", False), ("ed", True)])
def test_with_no_sources_the_page_explains_them(app, who, form_shown):
    page = soup_of(signed_in(app, who).get("/sources"))
    assert page.select_one("table") is None
    assert "No sources are followed yet" in page.select_one("main .notice").text
    assert (page.select_one("form[action='/sources']") is not None) is form_shown


@pytest.mark.parametrize("path, form", CHANGES)
def test_signed_out_changes_are_refused_and_change_nothing(app, feeds, live, paused, path, form):
    client = app.test_client()
    before = snapshot(app)
    data = {**form(feeds), "csrf_token": csrf_token(client, "/signin")}
    response = client.post(path.format(live=live.id, paused=paused.id), data=data)
    assert response.status_code == 401
    assert snapshot(app) == before


@pytest.mark.parametrize("path, form", CHANGES)
def test_readers_are_refused(app, feeds, live, paused, path, form):
    client = signed_in(app, "rita")
    before = snapshot(app)
    response = client.post(
        path.format(live=live.id, paused=paused.id), data={**form(feeds), "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 403
    assert "ask an editor" in response.get_data(as_text=True)
    assert snapshot(app) == before


@pytest.mark.parametrize("path, form", CHANGES)
@pytest.mark.parametrize("token", [None, "forged-token"])
def test_editors_need_a_csrf_token(app, feeds, live, paused, path, form, token):
    client = signed_in(app, "ed")
    before = snapshot(app)
    data = form(feeds) if token is None else {**form(feeds), "csrf_token": token}
    response = client.post(path.format(live=live.id, paused=paused.id), data=data)
    assert response.status_code == 400
    assert "nothing was changed" in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_when_reading_needs_sign_in_the_page_and_api_ask_for_it(data_dir):
    app = make_app(data_dir, ARCHIVE_SETTINGS={**SETTINGS, "read_requires_signin": "yes"})
    try:
        client = app.test_client()
        page = client.get("/sources")
        assert page.status_code == 302 and page.headers["Location"].startswith("/signin?next=/sources")
        assert client.post("/sources", data={"url": "https://example.org/feed"}).status_code == 302
        assert client.get("/api/sources").status_code == 401
        reader = signed_in(app, "rita")
        assert reader.get("/sources").status_code == 200 and reader.get("/api/sources").status_code == 200
    finally:
        close_archive(app)


def test_the_site_nav_links_the_sources_page(app):
    client = app.test_client()
    nav = soup_of(client.get("/sources")).select_one("header nav")
    link = nav.select_one("a[href='/sources']")
    assert link.text == "Sources" and link["aria-current"] == "page"
    assert [a.text for a in nav.select("a")][:2] == ["Sources", "Search help"]
    assert soup_of(client.get("/")).select_one("header nav a[href='/sources']").get("aria-current") is None


# -- what editors do --------------------------------------------------------------------------------


def test_editor_follows_a_feed_through_its_page_and_sees_it_listed(app, feeds):
    client = signed_in(app, "ed")
    data = {"url": feeds.url("/page"), "name": "", "every": "2h", "on_topic_only": "yes"}
    response = post(client, "/sources", data)
    assert response.status_code == 302 and response.headers["Location"] == "/sources"
    page = soup_of(client.get("/sources"))
    assert "Now following Live News, every 2h" in page.select_one(".flashes").text
    row = row_of(page, "Live News")
    assert row.select_one(f"a[href='{feeds.url('/live.xml')}']") is not None
    assert row.select_one(f"a[href='{feeds.url('/page')}']") is not None
    assert "2h" in row.text and "On-topic articles only" in row.text
    source = archive_of(app).sources.get("Live News")
    assert (source.url, source.page_url, source.every_seconds, source.on_topic_only) == (
        feeds.url("/live.xml"), feeds.url("/page"), 7200, True,
    )  # fmt: skip
    entry = archive_of(app).accounts.audit_log()[0]
    assert (entry.user, entry.action, entry.target) == ("ed", "source-add", "Live News")
    assert feeds.url("/live.xml") in entry.detail


def test_a_name_given_is_used(app, feeds):
    client = signed_in(app, "ed")
    post(client, "/sources", {"url": feeds.url("/live.xml"), "name": "  The   Live Desk "})
    assert [s.name for s in archive_of(app).sources.list()] == ["The Live Desk"]


def test_poll_now_adds_the_articles_and_links_them_in_search(app, live):
    client = signed_in(app, "ed")
    response = post(client, f"/sources/{live.id}/poll", follow_redirects=True)
    page = soup_of(response)
    assert page.select_one(".flashes").text.strip() == "Live News: 2 added"
    assert archive_of(app).count() == 2 and {a.source for a in archive_of(app).articles()} == {"Live News"}
    row = row_of(page, "Live News")
    assert row.select_one(".source-status").text == "OK"
    link = row.select_one("a[href^='/search']")
    assert parse_qs(urlsplit(link["href"]).query) == {"source": ["Live News"]}
    assert link.text.startswith("2")
    results = soup_of(client.get(link["href"])).get_text()
    assert "Story number 1" in results and "Story number 2" in results
    entry = archive_of(app).accounts.audit_log()[0]
    assert (entry.action, entry.target, entry.detail) == ("source-poll", "Live News", "Live News: 2 added")
    again = soup_of(post(client, f"/sources/{live.id}/poll", follow_redirects=True))
    assert again.select_one(".flashes").text.strip() == "Live News: nothing new"


def test_a_failed_poll_is_flashed_as_an_error_and_shown_in_the_row(app, feeds):
    broken = archive_of(app).sources.add("Broken", feeds.url("/broken.xml"), 1800)
    client = signed_in(app, "ed")
    page = soup_of(post(client, f"/sources/{broken.id}/poll", follow_redirects=True))
    flash = page.select_one(".flashes .notice--error")
    assert flash is not None and flash.text.startswith("Broken: the poll failed:") and "HTTP 500" in flash.text
    row = row_of(page, "Broken")
    assert row.select_one(".source-status").text == "Failed"
    assert "HTTP 500" in row.select_one(".source__error").text
    assert archive_of(app).sources.get("Broken").failures == 1
    assert archive_of(app).accounts.audit_log()[0].action == "source-poll"


def test_pause_resume_and_stop_following(app, live):
    client = signed_in(app, "ed")
    post(client, f"/sources/{live.id}/poll")
    paused = soup_of(post(client, f"/sources/{live.id}/pause", follow_redirects=True))
    assert archive_of(app).sources.get(live.id).status == "paused"
    assert row_of(paused, "Live News").select_one(f"form[action='/sources/{live.id}/resume']") is not None
    assert "Paused Live News" in paused.select_one(".flashes").text

    resumed = soup_of(post(client, f"/sources/{live.id}/resume", follow_redirects=True))
    assert archive_of(app).sources.get(live.id).status == "ok"
    assert row_of(resumed, "Live News").select_one(f"form[action='/sources/{live.id}/pause']") is not None

    removed = soup_of(post(client, f"/sources/{live.id}/remove", follow_redirects=True))
    assert "No longer following Live News; its 2 articles stay in the archive." in removed.select_one(".flashes").text
    assert archive_of(app).sources.list() == [] and archive_of(app).count() == 2
    assert removed.select_one("table") is None
    log = [(e.user, e.action, e.target) for e in archive_of(app).accounts.audit_log()]
    assert log[:4] == [
        ("ed", "source-remove", "Live News"),
        ("ed", "source-resume", "Live News"),
        ("ed", "source-pause", "Live News"),
        ("ed", "source-poll", "Live News"),
    ]


@pytest.mark.parametrize("action", ["poll", "pause", "resume", "remove"])
def test_an_unknown_source_is_a_404(app, live, action):
    client = signed_in(app, "ed")
    before = snapshot(app)
    response = post(client, f"/sources/{live.id + 100}/{action}")
    assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "url, extra, message",
    [
        ("", {}, "Give the address of a feed"),
        ("ftp://example.org/feed.xml", {}, "is not a web address"),
        ("javascript:alert(1)", {}, "is not a web address"),
        ("/page", {"every": "1m"}, "at most every 5 minutes"),
        ("/page", {"every": "soon"}, "'soon' is not an interval"),
        ("/no-feed-page", {}, "names no RSS or Atom feed"),
        ("/missing", {}, "HTTP 404"),
        ("/live.xml", {}, "already followed"),
        ("/shared/trafilatura/feed1.atom", {"name": "live news"}, "already followed"),
        ("/shared/trafilatura/feed1.atom", {"name": "x" * 101}, "1 to 100 characters"),
    ],
)
def test_bad_inputs_are_a_400_with_the_message_and_the_form_kept(app, feeds, live, url, extra, message):
    client = signed_in(app, "ed")
    before = snapshot(app)
    address = feeds.url(url) if url.startswith("/") else url
    data = {"url": address, "name": "", "every": "45m", "on_topic_only": "yes", **extra}
    response = post(client, "/sources", data)
    assert response.status_code == 400
    page = soup_of(response)
    assert message in page.select_one("main .notice--error[role=alert]").text
    form = page.select_one("form[action='/sources']")
    assert form.select_one("[name=url]")["value"] == address
    assert form.select_one("[name=every]")["value"] == data["every"]
    assert form.select_one("[name=name]")["value"] == data["name"]
    assert form.select_one("[name=on_topic_only]").has_attr("checked")
    assert row_of(page, "Live News") is not None  # the list is still shown
    assert snapshot(app) == before


def test_hostile_names_and_errors_are_text_everywhere(app, feeds):
    arch = archive_of(app)
    source = arch.sources.add(XSS, feeds.url("/live.xml"), 1800)
    client = signed_in(app, "ed")
    polled = post(client, f"/sources/{source.id}/poll", follow_redirects=True).get_data(as_text=True)
    moment = "2026-11-22T12:00:00+00:00"
    arch.sources.record_failure(source.id, polled_at=moment, next_poll_at=moment, error=XSS, paused=False)
    for text in (polled, client.get("/sources").get_data(as_text=True), client.get("/audit").get_data(as_text=True)):
        assert "<script>alert" not in text and "<img src=x" not in text
    page_text = client.get("/sources").get_data(as_text=True)
    for part in ("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;"):
        assert page_text.count(part) >= 2, part  # the name and the error, as text
    page = soup_of(client.get("/sources"))
    row = row_of(page, XSS)
    assert row.select_one(".source__error").text == XSS
    assert parse_qs(urlsplit(row.select_one("a[href^='/search']")["href"]).query) == {"source": [XSS]}
    response = client.get("/api/sources")
    assert response.mimetype == "application/json" and response.headers["X-Content-Type-Options"] == "nosniff"
    (listed,) = response.get_json()["sources"]
    assert (listed["name"], listed["last_error"]) == (XSS, XSS)


# -- the JSON API -----------------------------------------------------------------------------------


def test_api_lists_the_sources_without_their_cache_validators(app, live, paused):
    client = signed_in(app, "ed")
    post(client, f"/sources/{live.id}/poll")
    assert archive_of(app).sources.get(live.id).etag == '"v1"'  # there is one to leave out
    body = app.test_client().get("/api/sources").get_json()
    assert [s["name"] for s in body["sources"]] == ["Dormant", "Live News"]
    expected = source_to_dict(archive_of(app).sources.get(live.id))
    del expected["etag"], expected["last_modified"]
    assert body["sources"][1] == expected and list(body["sources"][1]) == list(expected)
    assert (expected["articles"], expected["status"], expected["every"]) == (2, "ok", "30m")
    document = openapi_document()
    assert problems(document, body, {"$ref": "#/components/schemas/SourceList"}) == []
    assert problems(document, {**body["sources"][0], "etag": None}, {"$ref": "#/components/schemas/Source"})


def test_api_lists_nothing_when_nothing_is_followed(app):
    assert app.test_client().get("/api/sources").get_json() == {"sources": []}


def test_the_api_page_documents_the_sources_endpoint(app):
    page = soup_of(app.test_client().get("/api"))
    section = page.select_one("section[aria-labelledby='get-api-sources']")
    assert section is not None and section.select_one("a.doc-try")["href"] == "/api/sources"


def test_the_page_has_no_inline_code_and_a_scrolling_table(app, live):
    page = soup_of(signed_in(app, "ed").get("/sources"))
    assert page.find("style") is None and page.find(attrs={"style": True}) is None
    assert all(script.get("src") for script in page.find_all("script"))
    assert not [tag for tag in page.find_all(True) if any(a.startswith("on") for a in tag.attrs)]
    wrap = page.select_one(".sources__table-wrap")
    assert (
        wrap["tabindex"] == "0" and wrap["role"] == "region" and page.find(id=wrap["aria-labelledby"]).name == "caption"
    )
    assert all(th.get("scope") in {"col", "row"} for th in page.select("table th"))

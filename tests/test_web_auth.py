"""Signed-in curation through the test client: who may change what, CSRF on every form, sign-in
throttling, safe redirects, sessions, the ingest page, corrections, deletion, the audit log and the
token API; and nothing changes when a request is refused."""

from __future__ import annotations

import html
import io
import os
import re
import stat

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from archive.models import TOPICS, SearchQuery
from archive.service import Archive
from tests.conftest import SEEDS, make_app
from web.extension import close_archive

PASSWORD = "correct horse battery staple"
PAGE = (
    "<html><head><title>{title}</title><meta name='author' content='{author}'></head><body><article>"
    "<h1>{title}</h1><p>{body}</p></article></body></html>"
)
XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


@pytest.fixture
def data_dir(tmp_path):
    from ingest.pipeline import ingest_sources

    path = tmp_path / "data"
    with Archive(path) as arch:
        assert [o.status for o in ingest_sources(arch, [str(SEEDS)])] == ["added", "added"]
        arch.accounts.add_user("ed", PASSWORD, "editor")
        arch.accounts.add_user("rita", PASSWORD, "reader")
    return path


@pytest.fixture
def app(data_dir):
    app = make_app(data_dir)
    yield app
    close_archive(app)


def archive_of(app) -> Archive:
    return app.extensions["archive"]


def csrf_token(client, path: str = "/") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, name: str):
    client = app.test_client()
    response = client.post(
        "/signin", data={"name": name, "password": PASSWORD, "csrf_token": csrf_token(client, "/signin")}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def an_article_id(app) -> str:
    return archive_of(app).search(SearchQuery(q="CEOP")).hits[0].id


def a_page(title="Police close grooming network", author="Jane Roe", words=60) -> bytes:
    body = "Police arrested a man for online grooming of children after a referral. " * (words // 12)
    return PAGE.format(title=title, author=author, body=body).encode()


# Every route that changes data, with the form it needs; {id} is an article's id.
CHANGES = [
    ("/ingest", lambda: {"title": "A pasted report", "text": "Police said grooming cases rose online. " * 20}),
    ("/articles/{id}/topics", lambda: {"topic": "prevention", "action": "add"}),
    ("/articles/{id}/topics/confirm", lambda: {}),
    ("/articles/{id}/delete", lambda: {}),
]


def snapshot(app) -> tuple:
    arch = archive_of(app)
    articles = sorted((a.id, tuple(a.topics)) for a in arch.articles())
    return articles, len(arch.accounts.audit_log())


# -- who may change what ------------------------------------------------------------------------


@pytest.mark.parametrize("path, form", CHANGES)
def test_signed_out_changes_are_refused_and_change_nothing(app, path, form):
    client = app.test_client()
    before = snapshot(app)
    data = {**form(), "csrf_token": csrf_token(client, "/signin")}
    response = client.post(path.format(id=an_article_id(app)), data=data)
    assert response.status_code == 401
    assert snapshot(app) == before


@pytest.mark.parametrize("path", ["/ingest", "/audit", "/articles/{id}/delete"])
def test_signed_out_editor_pages_send_to_sign_in(app, path):
    target = path.format(id=an_article_id(app))
    response = app.test_client().get(target)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/signin?next=")
    assert target in response.headers["Location"]


@pytest.mark.parametrize("path, form", CHANGES)
def test_readers_are_refused(app, path, form):
    client = signed_in(app, "rita")
    before = snapshot(app)
    response = client.post(path.format(id=an_article_id(app)), data={**form(), "csrf_token": csrf_token(client)})
    assert response.status_code == 403
    assert "ask an editor" in response.get_data(as_text=True)
    assert snapshot(app) == before
    assert client.get("/ingest").status_code == 403


@pytest.mark.parametrize("path, form", CHANGES)
@pytest.mark.parametrize("token", [None, "forged-token"])
def test_editors_need_a_csrf_token(app, path, form, token):
    client = signed_in(app, "ed")
    before = snapshot(app)
    data = form() if token is None else {**form(), "csrf_token": token}
    response = client.post(path.format(id=an_article_id(app)), data=data)
    assert response.status_code == 400
    assert "nothing was changed" in response.get_data(as_text=True)
    assert snapshot(app) == before


@pytest.mark.parametrize("path", ["/signin", "/signout"])
def test_sign_in_and_out_forms_need_a_csrf_token(app, path):
    response = app.test_client().post(path, data={"name": "ed", "password": PASSWORD})
    assert response.status_code == 400


# -- signing in -----------------------------------------------------------------------------------


def test_wrong_passwords_are_throttled_per_account(app):
    client = app.test_client()
    token = csrf_token(client, "/signin")
    for _ in range(5):
        response = client.post("/signin", data={"name": "ed", "password": "wrong", "csrf_token": token})
        assert response.status_code == 401
        assert "name or password is wrong" in response.get_data(as_text=True)
    blocked = client.post("/signin", data={"name": "ed", "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429
    assert "session" not in blocked.headers.get("Set-Cookie", "") or "user" not in str(blocked.headers)
    other = client.post("/signin", data={"name": "rita", "password": PASSWORD, "csrf_token": token})
    assert other.status_code == 302


def test_unknown_names_get_the_same_answer_as_wrong_passwords(app):
    client = app.test_client()
    token = csrf_token(client, "/signin")
    unknown = client.post("/signin", data={"name": "nobody", "password": PASSWORD, "csrf_token": token})
    wrong = client.post("/signin", data={"name": "ed", "password": "nope nope nope", "csrf_token": token})
    assert unknown.status_code == wrong.status_code == 401
    assert re.sub(r'value="[^"]*"', "", unknown.get_data(as_text=True)).replace("nobody", "ed") == re.sub(
        r'value="[^"]*"', "", wrong.get_data(as_text=True)
    )


@pytest.mark.parametrize(
    "next_url, expected",
    [
        ("/search?q=CEOP", "/search?q=CEOP"),
        ("//evil.example/x", "/search"),
        ("https://evil.example/", "/search"),
        ("/\\evil.example", "/search"),
        ("javascript:alert(1)", "/search"),
        ("", "/search"),
    ],
)
def test_sign_in_never_redirects_off_site(app, next_url, expected):
    client = app.test_client()
    data = {"name": "ed", "password": PASSWORD, "csrf_token": csrf_token(client, "/signin"), "next": next_url}
    response = client.post("/signin", data=data)
    assert response.headers["Location"] == expected


def test_session_cookie_is_signed_httponly_and_samesite(app):
    client = app.test_client()
    token = csrf_token(client, "/signin")
    response = client.post("/signin", data={"name": "ed", "password": PASSWORD, "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = app.test_client().get("/signin", base_url="https://archive.example")
    assert "Secure" in secure.headers["Set-Cookie"]


def test_a_tampered_session_is_not_trusted(app):
    other = Flask(__name__)
    other.secret_key = "not this archive's key" * 2
    forged = SecureCookieSessionInterface().get_signing_serializer(other).dumps({"user": "ed"})
    attacker = app.test_client()
    attacker.set_cookie("session", forged)
    assert attacker.get("/ingest").status_code == 302  # not signed in at all
    genuine = SecureCookieSessionInterface().get_signing_serializer(app).dumps({"user": "ed"})
    attacker.set_cookie("session", genuine)
    assert attacker.get("/ingest").status_code == 200  # the same cookie signed with the key is accepted


def test_sign_out_ends_the_session(app):
    client = signed_in(app, "ed")
    assert client.get("/ingest").status_code == 200
    assert client.post("/signout", data={"csrf_token": csrf_token(client)}).status_code == 302
    assert client.get("/ingest").status_code == 302


def test_secret_key_is_made_once_and_private(data_dir):
    first = make_app(data_dir)
    key_file = data_dir / "secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    second = make_app(data_dir)
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    close_archive(first)
    close_archive(second)


@pytest.mark.parametrize("setting, served_on, needed", [
    ("auto", "127.0.0.1", False), ("auto", "0.0.0.0", True), ("yes", "127.0.0.1", True), ("no", "0.0.0.0", False),
])  # fmt: skip
def test_reading_may_need_sign_in(data_dir, setting, served_on, needed):
    app = make_app(data_dir, SERVED_ON=served_on, ARCHIVE_SETTINGS={"read_requires_signin": setting})
    try:
        client = app.test_client()
        page, api = client.get("/search?q=CEOP"), client.get("/api/search?q=CEOP")
        assert (page.status_code == 302 and page.headers["Location"].startswith("/signin")) is needed
        assert (api.status_code == 401) is needed
        assert client.get("/healthz").status_code == 200
        assert client.get("/signin").status_code == 200
        if needed:
            assert signed_in(app, "rita").get("/search?q=CEOP").status_code == 200
    finally:
        close_archive(app)


# -- the ingest page ------------------------------------------------------------------------------


def test_editor_uploads_pastes_and_sees_each_outcome(app):
    client = signed_in(app, "ed")
    files = [
        (io.BytesIO(a_page()), "../../etc/report.html"),
        (io.BytesIO(a_page()), "again.html"),
        (io.BytesIO(b"\x00\x01 not an article"), "noise.bin"),
    ]
    data = {
        "csrf_token": csrf_token(client, "/ingest"),
        "files": files,
        "title": "Helpline calls rise",
        "text": "A charity helpline said calls from parents about online grooming rose sharply. " * 10,
    }
    response = client.post("/ingest", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = re.findall(r'<tr class="outcome outcome--(\w+)">\s*<td>([^<]*)</td>', html)
    assert rows[:2] == [("added", "report.html"), ("duplicate", "again.html")]
    assert rows[-1] == ("added", "pasted text")
    assert 'id="ingest-title" name="title" value=""' in html  # what went in is not offered again
    assert archive_of(app).search(SearchQuery(q="helpline calls rise")).total == 1  # searchable at once
    assert not any(p.name in {"report.html", "again.html"} for p in app.extensions["archive"].data_dir.rglob("*"))
    assert [e.action for e in archive_of(app).accounts.audit_log()].count("ingest") == 2


def test_an_off_topic_paste_is_added_and_shown_as_off_topic(app):
    client = signed_in(app, "ed")
    data = {
        "csrf_token": csrf_token(client, "/ingest"),
        "title": "Sourdough starter tips",
        "text": "Feed the starter twice a day with equal weights of flour and water, and keep it warm. " * 5,
    }
    html = client.post("/ingest", data=data, content_type="multipart/form-data").get_data(as_text=True)
    assert re.search(r'<tr class="outcome outcome--added">.*?class="badge topic-off_topic">Off-topic<', html, re.S)
    assert archive_of(app).search(SearchQuery(topics=["off_topic"], q="sourdough")).total == 1


def test_ingest_refuses_bad_links_and_private_addresses(app):
    client = signed_in(app, "ed")
    token = csrf_token(client, "/ingest")
    bad = client.post("/ingest", data={"csrf_token": token, "urls": "file:///etc/passwd"})
    assert bad.status_code == 400 and "is not a web address" in bad.get_data(as_text=True)
    before = snapshot(app)
    links = "http://127.0.0.1/\nhttp://10.0.0.1/\nhttp://169.254.169.254/latest/meta-data/"
    response = client.post("/ingest", data={"csrf_token": token, "urls": links})
    html = response.get_data(as_text=True)
    assert html.count("private or local address") == 3
    assert snapshot(app)[0] == before[0]
    assert links in html  # failed links are given back to correct and resend


def test_an_oversized_upload_is_a_413_and_stores_nothing(data_dir):
    app = make_app(data_dir, MAX_CONTENT_LENGTH=50_000)
    try:
        client = signed_in(app, "ed")
        before = snapshot(app)
        data = {"csrf_token": csrf_token(client, "/ingest"), "files": [(io.BytesIO(a_page(words=20_000)), "big.html")]}
        response = client.post("/ingest", data=data, content_type="multipart/form-data")
        assert response.status_code == 413
        assert "Request too large" in response.get_data(as_text=True)
        assert snapshot(app) == before
    finally:
        close_archive(app)


def test_hostile_fields_of_an_uploaded_page_are_text_everywhere(app):
    client = signed_in(app, "ed")
    # Markup in a page's text arrives as entities; decoded, it must stay text.
    page = a_page(title=f"Grooming report {html.escape(XSS)}", author=html.escape(XSS))
    data = {"csrf_token": csrf_token(client, "/ingest"), "files": [(io.BytesIO(page), f"{XSS}.html")]}
    page_html = client.post("/ingest", data=data, content_type="multipart/form-data").get_data(as_text=True)
    assert "<script>" not in page_html and "<img" not in page_html
    article_id = re.search(r"/articles/([0-9a-f]{16})", page_html).group(1)
    for path in (f"/articles/{article_id}", "/search?q=grooming+report", "/audit"):
        text = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in text and "<img src=x" not in text, path
    assert "<script>" in archive_of(app).get(article_id).title  # kept as text, shown escaped


# -- corrections and deletion ---------------------------------------------------------------------


def test_a_correction_is_shown_as_a_persons_decision_and_narrows_search(app):
    client = signed_in(app, "ed")
    article_id = an_article_id(app)
    assert "prevention" not in archive_of(app).get(article_id).topics
    token = csrf_token(client, f"/articles/{article_id}")
    response = client.post(
        f"/articles/{article_id}/topics", data={"csrf_token": token, "topic": "prevention", "action": "add"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#topics")
    page = client.get(f"/articles/{article_id}").get_data(as_text=True)
    assert "A person’s decision: added by ed" in page
    assert archive_of(app).search(SearchQuery(topics=["prevention"], q="CEOP")).total == 1
    entry = archive_of(app).accounts.audit_log()[0]
    assert (entry.user, entry.action, entry.target, entry.detail) == ("ed", "correct", article_id, "add prevention")
    assert "correct" in client.get("/audit").get_data(as_text=True)


def test_confirming_makes_every_topic_a_persons_decision(app):
    client = signed_in(app, "ed")
    article_id = an_article_id(app)
    before = archive_of(app).get(article_id).topics
    token = csrf_token(client, f"/articles/{article_id}")
    response = client.post(f"/articles/{article_id}/topics/confirm", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("#topics")
    article = archive_of(app).get(article_id)
    assert article.topics == before
    decisions = {c.topic: c.action for c in article.corrections}
    assert decisions == {t: ("add" if t in before else "remove") for t in TOPICS}
    assert {c.user for c in article.corrections} == {"ed"}
    entry = archive_of(app).accounts.audit_log()[0]
    assert (entry.user, entry.action, entry.target) == ("ed", "confirm", article_id)
    page = client.get(f"/articles/{article_id}").get_data(as_text=True)
    assert page.count("A person’s decision:") == len(TOPICS) and "Confirmed:" in page
    assert client.post("/articles/nope/topics/confirm", data={"csrf_token": token}).status_code == 404


def test_an_unknown_topic_is_refused_with_a_message(app):
    client = signed_in(app, "ed")
    article_id = an_article_id(app)
    token = csrf_token(client, f"/articles/{article_id}")
    response = client.post(
        f"/articles/{article_id}/topics", data={"csrf_token": token, "topic": "cooking", "action": "add"},
        follow_redirects=True,
    )  # fmt: skip
    assert response.status_code == 200
    assert "cooking" in response.get_data(as_text=True) and "notice--error" in response.get_data(as_text=True)


def test_delete_asks_first_then_removes_and_logs(app):
    client = signed_in(app, "ed")
    article_id = an_article_id(app)
    confirm = client.get(f"/articles/{article_id}/delete")
    assert confirm.status_code == 200 and "Delete this article?" in confirm.get_data(as_text=True)
    assert archive_of(app).count() == 2  # asking deletes nothing
    token = csrf_token(client, f"/articles/{article_id}/delete")
    done = client.post(f"/articles/{article_id}/delete", data={"csrf_token": token}, follow_redirects=True)
    assert "Deleted" in done.get_data(as_text=True)
    assert client.get(f"/articles/{article_id}").status_code == 404
    assert archive_of(app).search(SearchQuery(q="CEOP")).total == 0
    assert archive_of(app).accounts.audit_log()[0].action == "delete"


def test_editor_controls_are_hidden_from_readers(app):
    article_id = an_article_id(app)
    reader_page = signed_in(app, "rita").get(f"/articles/{article_id}").get_data(as_text=True)
    editor_page = signed_in(app, "ed").get(f"/articles/{article_id}").get_data(as_text=True)
    for control in ("/topics", "/delete", "Add articles"):
        assert control not in reader_page
        assert control in editor_page


# -- the token API --------------------------------------------------------------------------------


@pytest.fixture
def token(app):
    return archive_of(app).accounts.create_token("script")


def test_api_ingest_with_a_token(app, token):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"title": "API report", "text": "Regulators told platforms to remove grooming content quickly. " * 10}
    created = client.post("/api/articles", json=body, headers=headers)
    assert created.status_code == 201
    (outcome,) = created.get_json()["outcomes"]
    assert outcome["status"] == "added" and outcome["title"] == "API report"
    again = client.post("/api/articles", json=body, headers=headers)
    assert again.status_code == 200 and again.get_json()["outcomes"][0]["status"] == "duplicate"
    html = client.post(
        "/api/articles", json={"html": a_page().decode(), "url": "https://news.example/a"}, headers=headers
    )
    assert html.status_code == 201
    assert archive_of(app).get(html.get_json()["outcomes"][0]["id"]).url == "https://news.example/a"
    assert archive_of(app).accounts.audit_log()[0].user == "token:script"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic ZWQ6eA=="}])
def test_api_ingest_without_a_valid_token_is_401(app, token, headers):
    before = snapshot(app)
    response = app.test_client().post("/api/articles", json={"title": "t", "text": "x " * 50}, headers=headers)
    assert response.status_code == 401 and response.get_json()["error"]
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert snapshot(app) == before


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/"])
def test_api_refuses_private_addresses(app, token, url):
    response = app.test_client().post("/api/articles", json={"url": url}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422
    assert "private or local address" in response.get_json()["outcomes"][0]["error"]


@pytest.mark.parametrize("body", [None, [], {"url": 5}, {"url": "ftp://x"}, {"text": "no title"}, {"title": "no text"}])
def test_api_bad_bodies_are_400(app, token, body):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    response = (
        client.post("/api/articles", json=body, headers=headers)
        if body is not None
        else client.post("/api/articles", data="not json", headers=headers)
    )
    assert response.status_code == 400 and response.get_json()["error"]


def test_revoked_tokens_stop_working(app, token):
    archive_of(app).accounts.revoke_token("script")
    response = app.test_client().post(
        "/api/articles", json={"title": "t", "text": "x " * 50}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401

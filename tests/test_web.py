"""The Flask app through its test client: pages, facets, errors, the JSON API and security."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from bs4 import BeautifulSoup
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from archive.models import TOPICS, SearchQuery, SearchResult
from ingest.pipeline import ingest_sources
from tests.conftest import make_app
from web.extension import close_archive
from web.formatting import format_date, highlighted, paragraphs
from web.search import page_window
from web.search_state import BadParameter, SearchState
from web.security import HEADERS

SEARCH_KEYS = {"query", "total", "page", "per_page", "took_ms", "hits", "facets", "timeline", "suggestion"}
HIT_KEYS = {"id", "title", "url", "source", "date", "topics", "off_topic", "score", "snippet"}
ARTICLE_KEYS = {
    "id", "title", "url", "canonical_url", "source", "author", "date", "language",
    "ingested_at", "summary_only", "text", "topics", "off_topic", "scores", "evidence", "sentences", "corrections",
}  # fmt: skip
XSS = "<script>alert(1)</script>"
TOPIC_NAMES = list(TOPICS)


@pytest.fixture
def ceop_id(seeded_archive) -> str:
    result = seeded_archive.search(SearchQuery(q="CEOP"))
    assert result.total == 1
    return result.hits[0].id


def soup_of(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def heading_count(page: BeautifulSoup) -> int:
    """The N of the 'N results' heading."""
    return int(re.match(r"\s*([\d,]+)", page.select_one(".results-head__title").text)[1].replace(",", ""))


def search_form(page: BeautifulSoup):
    return page.select_one("main form[role=search]")


# -- the results page ----------------------------------------------------------------------


def test_search_highlights_the_term_and_links_the_article(client, ceop_id):
    response = client.get("/search?q=CEOP")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<mark>CEOP</mark>" in html
    page = soup_of(response)
    assert page.select_one(f'.hit__title a[href="/articles/{ceop_id}"]') is not None
    assert search_form(page).select_one("input[name=q]")["value"] == "CEOP"
    assert heading_count(page) == 1
    assert re.search(r"\(\d+(\.\d)? ms\)", page.select_one(".results-head__title").text)


def test_snippets_and_titles_hold_no_markup_but_mark(client):
    page = soup_of(client.get("/search?q=images+OR+CEOP"))
    marked = page.select(".hit__snippet, .hit__title a")
    assert len(marked) == 4
    for element in marked:
        assert {tag.name for tag in element.find_all(True)} <= {"mark"}
    assert page.select(".hit__snippet mark")


def test_topic_facet_narrows_the_results(client):
    page = soup_of(client.get("/search?q=images&sort=newest"))
    total = heading_count(page)
    narrower = [
        link for link in page.select(".facet--topic .facet__link") if int(link.select_one(".facet__count").text) < total
    ]
    assert narrower, "the seeds differ in at least one topic"
    link = narrower[0]
    expected = int(link.select_one(".facet__count").text)
    assert "q=images" in link["href"] and "sort=newest" in link["href"]  # the rest of the state stays

    narrowed = soup_of(client.get(link["href"]))
    assert heading_count(narrowed) == expected
    chip = narrowed.select_one(".chips .chip")
    assert link.select_one(".facet__label").text in chip.text
    selected = narrowed.select_one(".facet--topic .facet__link.is-selected")
    assert selected is not None and selected["aria-current"] == "true"
    assert heading_count(soup_of(client.get(selected["href"]))) == total  # selected value removes itself
    assert heading_count(soup_of(client.get(chip["href"]))) == total  # so does its chip


def test_empty_query_lists_the_whole_archive(client):
    page = soup_of(client.get("/"))
    assert "Latest in the archive" in page.select_one("h1").text
    assert "2 articles" in page.select_one("h1").text
    assert len(page.select(".hit")) == 2


def test_empty_archive_says_so(archive):
    app = make_app(archive.config.data_dir)
    try:
        page = soup_of(app.test_client().get("/"))
    finally:
        close_archive(app)
    assert "0 articles" in page.select_one("h1").text
    assert "The archive is empty" in page.select_one(".notice").text


def test_pagination_links_between_pages(client):
    first = soup_of(client.get("/search?q=images&per_page=1"))
    next_link = first.select_one(".pagination a[rel=next]")
    assert next_link is not None and "page=2" in next_link["href"] and "per_page=1" in next_link["href"]
    assert first.select_one(".pagination__page.is-current").text == "1"
    second = soup_of(client.get(next_link["href"]))
    assert second.select_one(".pagination__page.is-current").text == "2"
    assert second.select_one(".pagination a[rel=prev]") is not None
    assert second.select_one(".hits")["start"] == "2"


def test_page_past_the_end_offers_page_one(client):
    response = client.get("/search?q=CEOP&page=5")
    page = soup_of(response)
    assert response.status_code == 200
    assert "No results on this page" in page.select_one(".results .notice").text
    assert not page.select(".hit")
    link = page.select_one(".results .notice a")
    assert "page=" not in link["href"] and "q=CEOP" in link["href"]


def test_suggestion_is_offered_as_a_link(app, client, monkeypatch):
    canned = SearchResult(
        query="goverment", total=0, page=1, per_page=10, took_ms=1.0, hits=[],
        facets={"topic": {}, "source": {}, "year": {}}, suggestion="government",
    )  # fmt: skip
    monkeypatch.setattr(app.extensions["archive"], "search", lambda query: canned)
    page = soup_of(client.get("/search?q=goverment&topic=policy"))
    suggestion = page.select_one(".suggestion")
    assert suggestion.text.split() == ["Did", "you", "mean", "government?"]
    assert "q=government" in suggestion.a["href"] and "topic=policy" in suggestion.a["href"]


@pytest.mark.parametrize(
    "query_string",
    [
        'q="online harms',  # unbalanced quote
        "q=(grooming",  # unclosed bracket
        "q=grooming)",  # stray closing bracket
        "q=grooming&from=yesterday",  # unreadable date
        "q=grooming&to=2019-13-45",
    ],
)
def test_unreadable_query_is_a_400_with_the_form_and_one_sentence(client, query_string):
    response = client.get(f"/search?{query_string}")
    page = soup_of(response)
    assert response.status_code == 400
    assert search_form(page) is not None
    message = page.select_one(".notice--error .notice__text").text.strip()
    assert message and message.endswith(".") and "\n" not in message
    assert not page.select(".hit")


def test_bad_query_keeps_what_the_reader_typed(client):
    page = soup_of(client.get('/search?q="online+harms'))
    assert search_form(page).select_one("input[name=q]")["value"] == '"online harms'
    assert "quote" in page.select_one(".notice--error").text


@pytest.mark.parametrize(
    ("query_string", "words"),
    [
        ("page=x", "page number"),
        ("page=0", "page number"),
        ("page=-1", "page number"),
        ("page=1.5", "page number"),
        ("page=%C2%B2", "page number"),  # a superscript two is a digit to str.isdigit
        ("per_page=abc", "results per page"),
        ("per_page=0", "results per page"),
        ("sort=sideways", "Sort must be"),
        ("topic=astrology", "no topic called"),
    ],
)
def test_bad_parameters_are_a_friendly_400(client, query_string, words):
    response = client.get(f"/search?q=CEOP&{query_string}")
    page = soup_of(response)
    assert response.status_code == 400
    assert words in page.select_one(".notice--error").text
    assert search_form(page).select_one("input[name=q]")["value"] == "CEOP"


def test_per_page_is_capped_by_the_setting(seeded_archive):
    app = make_app(seeded_archive.config.data_dir, ARCHIVE_SETTINGS={"max_per_page": 1})
    try:
        body = app.test_client().get("/api/search?q=images&per_page=50").get_json()
    finally:
        close_archive(app)
    assert body["per_page"] == 1 and len(body["hits"]) == 1


# -- the article page ----------------------------------------------------------------------


def test_article_page_shows_text_scores_and_evidence(client, seeded_archive, ceop_id):
    article = seeded_archive.get(ceop_id)
    response = client.get(f"/articles/{ceop_id}")
    page = soup_of(response)
    assert response.status_code == 200
    assert page.select_one("h1").text == article.title
    body = [p.text for p in page.select(".article__body p")]
    assert body == paragraphs(article.body) and len(body) > 3
    assert any("Peter Davies, chief executive of CEOP" in p for p in body)

    rows = {row.select_one("h3").text: row for row in page.select(".topic-row")}
    assert len(rows) == 4
    for score in article.scores:
        row = rows[seeded_archive.taxonomy.label(score.topic)]
        assert row.select_one(".topic-row__number").text == f"{score.score:.2f}"
        assert float(row.select_one("meter")["value"]) == pytest.approx(score.score, abs=1e-3)
        assert ("is-assigned" in row["class"]) == (score.topic in article.topics)
        terms = {li.contents[0].strip(): li.select_one(".evidence__count").text for li in row.select(".evidence li")}
        assert terms == {e.term: f"×{e.count}" for e in score.evidence}
        if score.sentence:
            assert row.select_one("blockquote").text == score.sentence


def test_unknown_article_is_a_friendly_404(client):
    response = client.get("/articles/no-such-id")
    page = soup_of(response)
    assert response.status_code == 404
    assert page.select_one("h1").text == "Article not found"
    assert search_form(page) is not None


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("http://localhost/search?q=CEOP&topic=policy", "/search?q=CEOP&topic=policy"),
        ("http://localhost/?q=CEOP", "/?q=CEOP"),
        ("https://evil.example/search?q=CEOP", "/search"),  # another site
        ("http://localhost/articles/x", "/search"),  # ours, but not a results page
        ("javascript:alert(1)", "/search"),
        (None, "/search"),
    ],
)
def test_back_link_follows_only_our_own_results_pages(client, ceop_id, referrer, expected):
    headers = {"Referer": referrer} if referrer else {}
    page = soup_of(client.get(f"/articles/{ceop_id}", headers=headers))
    assert page.select_one(".crumbs a")["href"] == expected


# -- escaping ------------------------------------------------------------------------------


@pytest.fixture
def hostile_id(seeded_archive, tmp_path) -> str:
    source = tmp_path / "hostile.txt"
    source.write_text(
        f"Online safety {XSS} rules announced\n\n"
        f"The regulator said {XSS} that platforms must remove abuse images quickly and report them "
        "to the police, and that the new code of practice would apply to every social media company "
        "operating in the country from next year onwards.\n",
        encoding="utf-8",
    )
    (outcome,) = ingest_sources(seeded_archive, [str(source)])
    assert outcome.status == "added", outcome
    return outcome.id


@pytest.mark.parametrize("path", ["/search?q=regulator", "/search?q=script", "/", "/articles/{id}"])
def test_stored_markup_is_shown_escaped(seeded_archive, hostile_id, path):
    app = make_app(seeded_archive.config.data_dir)  # opened after the ingest, so it sees it
    try:
        response = app.test_client().get(path.format(id=hostile_id))
    finally:
        close_archive(app)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert XSS not in html
    assert re.search(r"&lt;(<mark>)?script(</mark>)?&gt;alert\(1\)", html)  # shown, as text
    assert soup_of(response).find("script") is None


def test_api_snippets_hold_escaped_text_and_marks_only(seeded_archive, hostile_id):
    app = make_app(seeded_archive.config.data_dir)
    try:
        body = app.test_client().get("/api/search?q=regulator+OR+images").get_json()
    finally:
        close_archive(app)
    assert body["total"] == 3
    for hit in body["hits"]:
        unmarked = re.sub(r"</?mark>", "", hit["snippet"])
        assert "<" not in unmarked and ">" not in unmarked
    assert any("<mark>" in hit["snippet"] for hit in body["hits"])


@pytest.mark.parametrize(
    ("html", "trusted"),
    [
        ("a <mark>b</mark> &amp; c", True),
        ("plain &lt;escaped&gt; text", True),
        ("", True),
        (XSS, False),
        ('<mark onclick="x()">b</mark>', False),
        ("<b>bold</b>", False),
        ("a > b", False),
    ],
)
def test_highlighted_trusts_only_mark_tags(html, trusted):
    result = highlighted(html)
    assert isinstance(result, Markup)
    assert (str(result) == html) is trusted


# -- the JSON API --------------------------------------------------------------------------


def test_api_search_has_the_cli_shape(client, ceop_id):
    response = client.get("/api/search?q=CEOP")
    body = response.get_json()
    assert response.status_code == 200
    assert set(body) == SEARCH_KEYS
    assert set(body["facets"]) == {"topic", "source", "year", "language"}
    assert (body["query"], body["total"], body["page"], body["per_page"]) == ("CEOP", 1, 1, 10)
    (hit,) = body["hits"]
    assert set(hit) == HIT_KEYS
    assert hit["id"] == ceop_id and "<mark>CEOP</mark>" in hit["snippet"]
    assert set(hit["topics"]) <= set(TOPIC_NAMES) and hit["topics"]
    assert list(body) == ["query", "total", "page", "per_page", "took_ms", "hits", "facets", "timeline", "suggestion"]


@pytest.mark.parametrize("query_string", ['q="online+harms', "q=x&page=x", "q=x&topic=astrology", "q=x&from=soon"])
def test_api_search_errors_are_json_400(client, query_string):
    response = client.get(f"/api/search?{query_string}")
    assert response.status_code == 400
    assert response.is_json
    assert set(response.get_json()) == {"error"} and response.get_json()["error"]


def test_api_article_has_the_contract_shape(client, seeded_archive, ceop_id):
    article = seeded_archive.get(ceop_id)
    body = client.get(f"/api/articles/{ceop_id}").get_json()
    assert set(body) == ARTICLE_KEYS
    assert body["id"] == ceop_id and body["text"] == article.body
    assert body["topics"] == article.topics
    assert body["scores"] == {s.topic: s.score for s in article.scores}
    evidence = {s.topic: [{"term": e.term, "count": e.count} for e in s.evidence] for s in article.scores}
    assert body["evidence"] == evidence
    assert "ceop" in {item["term"] for item in body["evidence"]["law_enforcement"]}
    assert body["sentences"]["law_enforcement"] in article.body
    assert body["corrections"] == []


def test_api_unknown_article_is_json_404(client):
    response = client.get("/api/articles/no-such-id")
    assert response.status_code == 404
    assert "no-such-id" in response.get_json()["error"]


def test_healthz_counts_articles(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "articles": 2}


# -- errors and headers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no/such/page", 404),
        ("POST", "/search", 405),
        ("DELETE", "/articles/x", 405),
    ],
)
def test_http_errors_are_friendly_pages(client, method, path, status):
    response = client.open(path, method=method)
    page = soup_of(response)
    assert response.status_code == status
    assert page.select_one(".error-page__code").text == f"Error {status}"
    assert search_form(page) is not None


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/api/nothing", 404), ("POST", "/api/search", 405)])
def test_api_http_errors_are_json(client, method, path, status):
    response = client.open(path, method=method)
    assert response.status_code == status
    assert set(response.get_json()) == {"error"}


def test_unexpected_errors_are_a_friendly_500(seeded_archive):
    app = make_app(seeded_archive.config.data_dir, PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    try:
        response = app.test_client().get("/boom")
    finally:
        close_archive(app)
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert "a bug" not in response.get_data(as_text=True)


def test_oversized_requests_are_a_413(seeded_archive):
    app = make_app(seeded_archive.config.data_dir, ARCHIVE_SETTINGS={"max_content_length": 10})
    assert app.config["MAX_CONTENT_LENGTH"] == 10

    @app.post("/echo")
    def echo():
        from flask import request

        return request.get_data()

    try:
        response = app.test_client().post("/echo", data=b"x" * 100)
    finally:
        close_archive(app)
    assert response.status_code == 413
    assert "Request too large" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    ["/", "/search?q=CEOP", "/search?q=%22", "/articles/nope", "/api/search?q=x", "/healthz", "/static/style.css"],
)
def test_security_headers_on_every_response(client, path):
    with client.get(path) as response:  # closes the static file
        headers = response.headers
    for name, value in HEADERS.items():
        assert headers[name] == value
    assert "script-src 'self'" in headers["Content-Security-Policy"]


def test_pages_have_no_inline_scripts_or_styles(client, ceop_id):
    for path in ("/", "/search?q=CEOP&topic=policy", f"/articles/{ceop_id}", "/articles/nope", "/search?page=x"):
        page = soup_of(client.get(path))
        assert page.find("style") is None
        assert page.find(attrs={"style": True}) is None
        assert all(script.get("src") for script in page.find_all("script"))
        assert not [tag for tag in page.find_all(True) if any(a.startswith("on") for a in tag.attrs)]


# -- search state and formatting -----------------------------------------------------------


def state_of(url: str) -> SearchState:
    query = MultiDict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    return SearchState.from_args(query, known_topics=TOPIC_NAMES, max_per_page=100)


def test_year_facet_sets_one_calendar_year_and_its_chip_removes_it(app):
    with app.test_request_context():
        state = SearchState(q="abuse", topics=("policy",), page=3)
        year_url = state.with_year("2013")
        assert urlsplit(year_url).path == "/search"
        narrowed = state_of(year_url)
        assert (narrowed.date_from, narrowed.date_to, narrowed.year) == ("2013-01-01", "2013-12-31", "2013")
        assert narrowed.page == 1  # a new filter starts again at page 1
        chips = narrowed.chips(str.upper)
        assert [chip.label for chip in chips] == ["Topic: POLICY", "Year: 2013"]
        assert state_of(chips[1].remove_url) == SearchState(q="abuse", topics=("policy",))
        assert state_of(chips[0].remove_url).topics == ()


@pytest.mark.parametrize(
    ("url", "sort"),
    [("/search", "relevance"), ("/search?q=abuse", "relevance"), ("/search?sort=oldest", "oldest"),
     ("/search?q=abuse&sort=newest", "newest")],
)  # fmt: skip
def test_search_state_passes_the_sort_through(url, sort):
    assert state_of(url).to_query(default_per_page=10).sort == sort


@pytest.mark.parametrize("url", ["/search?q=" + "x" * 1001, "/search?page=9999999999", "/search?per_page=-5"])
def test_search_state_refuses_unusable_values(url):
    with pytest.raises(BadParameter):
        state_of(url)


def test_search_state_round_trips_through_its_url(app):
    url = (
        "/search?q=online+harms&topic=policy&topic=prevention&source=BBC"
        "&from=2019&to=2020-06&sort=oldest&page=2&per_page=5"
    )
    state = state_of(url)
    with app.test_request_context():
        assert state_of(state.url(page=state.page)) == state


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-03-14", "14 Mar 2019"),
        ("2019-12-01", "1 Dec 2019"),
        ("2019-03", "Mar 2019"),
        ("2019", "2019"),
        (None, "date unknown"),
        ("", "date unknown"),
        ("someday", "someday"),
    ],
)
def test_format_date(value, expected):
    assert format_date(value) == expected


@pytest.mark.parametrize(
    ("current", "count", "expected"),
    [
        (1, 1, [1]),
        (1, 3, [1, 2, 3]),
        (1, 10, [1, 2, 3, None, 10]),
        (6, 12, [1, None, 4, 5, 6, 7, 8, None, 12]),
        (12, 12, [1, None, 10, 11, 12]),
        (4, 7, [1, 2, 3, 4, 5, 6, 7]),
    ],
)
def test_page_window(current, count, expected):
    assert page_window(current, count) == expected


def test_a_summary_only_article_says_so(seeded_archive, ceop_id, tmp_path):
    from archive.config import load_config
    from ingest.pipeline import ingest_sources

    feed = tmp_path / "news.rss"
    feed.write_text(
        "<rss version='2.0'><channel><title>Example</title><item><title>Teaser only</title>"
        "<link>https://news.example.org/teaser</link><description>Ofcom sets new duties.</description>"
        "</item></channel></rss>",
        encoding="utf-8",
    )
    seeded_archive.config = load_config(seeded_archive.data_dir, {"feed_fetch_links": False})
    [outcome] = ingest_sources(seeded_archive, [str(feed)])
    app = make_app(seeded_archive.config.data_dir)
    try:
        client = app.test_client()
        notice = soup_of(client.get(f"/articles/{outcome.id}")).select_one(".article__body .notice")
        assert notice is not None and "summary" in notice.text
        assert soup_of(client.get(f"/articles/{ceop_id}")).select_one(".article__body .notice") is None
        assert client.get(f"/api/articles/{outcome.id}").get_json()["summary_only"] is True
    finally:
        close_archive(app)


def test_the_app_repairs_the_index_on_start(seeded_archive, caplog):
    from archive.models import Article
    from ingest.dedup import fingerprint

    body = "Stored just before a crash, never indexed: online grooming report."
    orphan_free = Article(
        title="Crash survivor",
        body=body,
        fingerprint=fingerprint(body),
        id="c0ffee0000000001",
        ingested_at="2026-11-21",
    )
    seeded_archive.store.insert(orphan_free)  # the store has it, the index does not (killed in between)
    ceop = seeded_archive.search(SearchQuery(q="CEOP")).hits[0].id
    seeded_archive.store.delete(ceop)  # and the index has an article the store lost
    assert not seeded_archive.check(repair=False).ok
    app = make_app(seeded_archive.config.data_dir)
    try:
        client = app.test_client()
        assert client.get("/api/search?q=survivor").get_json()["total"] == 1
        assert client.get("/api/search?q=CEOP").get_json()["total"] == 0
    finally:
        close_archive(app)
    assert "1 missing articles indexed, 1 orphans removed" in caplog.text
    assert seeded_archive.check(repair=False).ok

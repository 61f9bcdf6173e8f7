"""The search page's research tools through the test client: query language, language facet, date
range form, timeline, did-you-mean, exports, the Atom feed, similar articles, and hostile text."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup

from archive.models import Article, TopicScore
from archive.service import Archive
from ingest.dedup import fingerprint
from web import create_app
from web.extension import close_archive

ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE_TITLE = '=HYPERLINK("http://evil") "><img src=x onerror=alert(1)> <script>alert(2)</script>'
HOSTILE_AUTHOR = "<script>alert(3)</script>"
HOSTILE_URL = "javascript:alert(4)"
TOPIC_CYCLE = ["policy", "law_enforcement", "prevention", "platform_moderation"]


def corpus() -> list[Article]:
    """24 dated reports over 2019-2022 in two languages and three sources, plus one undated and a hostile one."""
    articles = []
    for n in range(24):
        year, month = 2019 + n // 6, 1 + (n % 6) * 2
        topic = TOPIC_CYCLE[n % 4]
        body = (
            f"Report {n} on online grooming and child safety. Police and regulators in district {n} "
            f"reviewed encryption, moderation and prevention work with schools, item {n}."
        )
        articles.append(
            Article(
                title=f"Grooming report number {n}",
                body=body,
                published=f"{year}-{month:02d}-15",
                source=["Harbour Courier", "Northern Ledger", "Civic Tech Review"][n % 3],
                author=f"Reporter {n}",
                language="en" if n % 5 else "fr",
                url=f"https://news.example/{n}",
                scores=[TopicScore(topic, 0.9, True)],
            )
        )
    articles.append(Article(title="Undated helpline note", body="A helpline note about grooming with no date."))
    articles.append(
        Article(
            title=HOSTILE_TITLE,
            body="=SUM(A1:A9) a hostile grooming page with <b>markup</b> & entities.",
            published="2020-06-01",
            source="<b>Evil source</b>",
            author=HOSTILE_AUTHOR,
            url=HOSTILE_URL,
            language="en",
        )
    )
    for article in articles:
        article.fingerprint = fingerprint(article.title + article.body)
    return articles


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("search-web") / "data"
    with Archive(path) as arch:
        for article in corpus():
            assert arch.add(article).status == "added"
    return path


@pytest.fixture(scope="module")
def client(data_dir):
    app = create_app({"TESTING": True, "DATA_DIR": str(data_dir)})
    yield app.test_client()
    close_archive(app)


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def count_of(page: BeautifulSoup) -> int:
    return int(re.match(r"\s*([\d,]+)", page.select_one(".results-head__title").text)[1].replace(",", ""))


def api(client, query: str) -> dict:
    response = client.get(f"/api/search?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


# -- query language on the page and in the API ----------------------------------------------------


@pytest.mark.parametrize(
    "q, expected",
    [
        ("grooming date:2020", 7),  # six reports and the hostile page
        ("grooming date:[2019 to 2020]", 13),
        ("grooming date:>2022", 0),
        ("grooming date:>=2022", 6),
        ("report NOT date:2019", 18),
        ("groming~", 26),
        ('title:"report number 13"', 1),
        ("lang:fr", 5),
        ("topic:policy", 6),
    ],
)
def test_query_language_counts(client, q, expected):
    assert api(client, f"q={q}")["total"] == expected
    page = client.get("/search", query_string={"q": q})
    assert page.status_code == 200
    assert count_of(soup(page)) == expected


def test_an_unreadable_date_is_a_friendly_400(client):
    response = client.get("/search?q=date:someday")
    assert response.status_code == 400
    assert "date:[2019 to 2021]" in soup(response).select_one("[role=alert]").text
    assert client.get("/api/search?q=date:someday").get_json()["error"]


# -- language facet, date range form, chips -------------------------------------------------------


def test_language_facet_narrows_and_its_chip_removes_it(client):
    page = soup(client.get("/search?q=grooming"))
    french = next(a for a in page.select(".facet--language .facet__link") if "French" in a.text)
    assert french.select_one(".facet__count").text == "5"
    narrowed = client.get(french["href"])
    assert count_of(soup(narrowed)) == 5
    chip = soup(narrowed).select_one(".chip")
    assert "Language: French" in chip.text
    assert count_of(soup(client.get(chip["href"]))) == 26


def test_a_bad_language_code_is_a_400(client):
    assert client.get("/search?lang=French!").status_code == 400


def test_date_range_form_is_labelled_and_keeps_the_search(client):
    page = soup(client.get("/search?q=grooming&topic=policy&sort=newest"))
    form = page.select_one("form.date-range")
    for name in ("from", "to"):
        field = form.select_one(f"input[name={name}]")
        assert page.select_one(f"label[for={field['id']}]")
    kept = {i["name"]: i["value"] for i in form.select("input[type=hidden]")}
    assert kept == {"q": "grooming", "topic": "policy", "sort": "newest"}
    narrowed = client.get("/search", query_string={**kept, "from": "2020", "to": "2020-12"})
    assert count_of(soup(narrowed)) == 1  # of the six policy reports, one is from 2020


# -- timeline ---------------------------------------------------------------------------------------


def test_timeline_bars_link_to_their_period_and_agree_with_the_table(client):
    page = soup(client.get("/search?q=grooming"))
    chart = page.select_one("svg.timeline__chart")
    assert "(1 undated not shown)" in page.select_one(".timeline__heading").text
    bars = chart.select("a.timeline__bar")
    assert bars and all(bar.select_one("title").text for bar in bars)
    # 2019-2022 spans 48 months: drawn by month, one bar per month that has matches
    first = bars[0]
    assert first.select_one("title").text.startswith("Jan 2019: 1 article")
    params = parse_qs(urlsplit(first["href"]).query)
    assert params["from"] == ["2019-01"] and params["to"] == ["2019-01"] and params["q"] == ["grooming"]
    assert count_of(soup(client.get(first["href"]))) == 1
    rows = page.select(".timeline__table tbody tr")
    assert len(rows) == len(bars)
    assert sum(int(r.select("td")[0].text) for r in rows) == 25


def test_timeline_stacks_by_topic_with_a_legend(client):
    page = soup(client.get("/search?q=grooming"))
    classes = {c for rect in page.select("rect.timeline__segment") for c in rect["class"] if c.startswith("tl-")}
    assert classes == {"tl-policy", "tl-law_enforcement", "tl-prevention", "tl-platform_moderation", "tl-none"}
    legend = [li.text.split()[0] for li in page.select(".timeline__legend li")]
    assert legend[:2] == ["Policy", "Platform"]


def test_long_spans_are_drawn_by_year_and_years_narrow_to_one_year(client):
    timeline = api(client, "q=grooming OR helpline")["timeline"]
    assert timeline["unit"] == "month"  # 2019-01 to 2022-11: 47 months
    page = soup(client.get("/search?q=grooming&from=2019&to=2022"))
    assert page.select_one("svg.timeline__chart")


def test_no_timeline_without_dated_matches(client):
    page = soup(client.get("/search?q=helpline"))
    assert count_of(page) == 1
    assert page.select_one("svg.timeline__chart") is None


# -- did-you-mean -----------------------------------------------------------------------------------


def test_did_you_mean_links_to_the_corrected_search(client):
    page = soup(client.get("/search?q=helplne"))
    link = page.select_one(".suggestion a")
    assert link.text == "helpline"
    assert count_of(soup(client.get(link["href"]))) == 1
    assert api(client, "q=helplne")["suggestion"] == "helpline"


# -- exports ----------------------------------------------------------------------------------------


def test_csv_export_streams_every_match_not_one_page(client):
    response = client.get("/export.csv?q=grooming&sort=oldest&per_page=5&page=3")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 26
    assert list(rows[0]) == ["id", "title", "url", "source", "date", "author", "topics", "snippet"]
    assert rows[0]["date"] == "2019-01-15" and rows[0]["topics"] == "policy"
    assert "<mark>" not in rows[0]["snippet"] and "grooming" in rows[0]["snippet"].lower()


def test_csv_cells_cannot_start_a_formula(client):
    rows = list(csv.DictReader(io.StringIO(client.get("/export.csv?q=hostile").get_data(as_text=True))))
    assert len(rows) == 1
    for value in rows[0].values():
        assert value[:1] not in ("=", "+", "-", "@")
    assert rows[0]["title"] == "'" + HOSTILE_TITLE


def test_jsonl_export_matches_the_csv(client):
    response = client.get("/export.jsonl?q=grooming&topic=policy")
    assert response.mimetype == "application/x-ndjson"
    records = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(records) == 6
    assert set(records[0]) == {"id", "title", "url", "source", "date", "author", "topics", "snippet"}
    assert all(r["topics"] == ["policy"] for r in records)


def test_exports_of_a_bad_search_are_json_400(client):
    for path in ("/export.csv?q=date:someday", "/export.jsonl?q=%22open", "/feed.atom?topic=nope"):
        response = client.get(path)
        assert response.status_code == 400 and response.get_json()["error"]


def test_export_links_sit_beside_the_count_and_keep_the_search(client):
    page = soup(client.get("/search?q=grooming&topic=policy&page=2&per_page=3"))
    links = {a.text: a["href"] for a in page.select(".take-away a")}
    assert set(links) == {"Export CSV", "Export JSON Lines", "Atom feed", "JSON"}
    for href in links.values():
        params = parse_qs(urlsplit(href).query)
        assert params["q"] == ["grooming"] and params["topic"] == ["policy"] and "page" not in params
    assert client.get(links["Export CSV"]).status_code == 200


# -- the Atom feed ----------------------------------------------------------------------------------


def test_atom_feed_lists_the_newest_matches(client):
    response = client.get("/feed.atom?q=grooming&topic=law_enforcement")
    assert response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.get_data())
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 6
    published = [e.findtext(f"{ATOM}published") for e in entries]
    assert published == sorted(published, reverse=True)
    first = entries[0]
    assert first.find(f"{ATOM}link[@rel='alternate']").get("href").startswith("http://localhost/articles/")
    assert first.find(f"{ATOM}category").get("term") == "law_enforcement"
    assert feed.findtext(f"{ATOM}title") == "topic-archive: “grooming”, Law enforcement"


def test_search_page_advertises_its_feed(client):
    page = soup(client.get("/search?q=grooming"))
    link = page.select_one("link[rel=alternate][type='application/atom+xml']")
    assert parse_qs(urlsplit(link["href"]).query)["q"] == ["grooming"]


# -- similar articles -------------------------------------------------------------------------------


def test_article_page_and_api_list_similar_articles(client):
    hit = api(client, "q=%22report+number+7%22")["hits"][0]
    similar = client.get(f"/api/articles/{hit['id']}/similar").get_json()
    assert similar["id"] == hit["id"]
    assert similar["more_like_this"] and hit["id"] not in {h["id"] for h in similar["more_like_this"]}
    page = soup(client.get(f"/articles/{hit['id']}"))
    titles = [a.text for a in page.select("#more-like-this ~ .related__list a.related__title")]
    assert titles == [h["title"] for h in similar["more_like_this"]]
    assert client.get("/api/articles/nope/similar").status_code == 404


# -- hostile text -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/search?q=hostile", "/search?q=hostile&sort=newest", "/articles/{id}"])
def test_hostile_metadata_is_text_in_pages(client, path):
    hostile = api(client, "q=hostile")["hits"][0]["id"]
    response = client.get(path.format(id=hostile))
    html = response.get_data(as_text=True)
    page = soup(response)
    assert page.find("script") is None and page.find("img") is None
    assert "<img" not in html and "<script" not in html
    assert "javascript:" not in " ".join(a.get("href", "") for a in page.find_all("a"))
    assert "&lt;script&gt;" in html


def test_hostile_metadata_is_text_in_the_feed_and_json(client):
    feed = client.get("/feed.atom?q=hostile").get_data(as_text=True)
    root = ET.fromstring(feed)  # well-formed: nothing broke out of its element
    entry = root.find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == HOSTILE_TITLE
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == HOSTILE_AUTHOR
    assert entry.find(f"{ATOM}link[@rel='related']") is None  # a javascript: URL is not a link
    assert "<script>" not in feed
    record = json.loads(client.get("/export.jsonl?q=hostile").get_data(as_text=True))
    assert record["title"] == HOSTILE_TITLE and record["author"] == HOSTILE_AUTHOR


def test_off_topic_articles_are_badged_and_found_by_their_filter(app):
    from archive.models import Article
    from ingest.dedup import fingerprint
    from web.extension import get_archive

    body = "Cream the butter and sugar, then fold in the flour and bake the sponge for forty minutes."
    with app.app_context():
        added = get_archive().add(Article(title="Victoria sponge", body=body, fingerprint=fingerprint(body),
                                          unrelated=True))  # fmt: skip
    client = app.test_client()
    page = client.get("/search?topic=off_topic").get_data(as_text=True)
    assert "Victoria sponge" in page and 'class="badge topic-off_topic">Off-topic<' in page
    assert "Topic: Off-topic" in page  # the chip names the filter
    assert "Victoria sponge" not in client.get("/search?topic=prevention").get_data(as_text=True)
    article_page = client.get(f"/articles/{added.id}").get_data(as_text=True)
    assert "Off-topic: the tagger found too little about child protection" in article_page
    hits = client.get("/api/search?topic=off_topic").get_json()["hits"]
    assert [(h["title"], h["off_topic"], h["topics"]) for h in hits] == [("Victoria sponge", True, [])]

"""ingest.feeds: every entry an article, from full content, the linked page or the summary; broken feeds
give what can be read and a clear problem. Linked pages come from a local server, never the internet."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from archive.config import load_config
from archive.errors import ExtractionError
from archive.service import Archive
from ingest.feeds import FULL_CONTENT_WORDS, entry_article, parse_feed
from ingest.pipeline import extract_articles, ingest_sources
from ingest.sources import RawDocument
from tests.conftest import SHARED

FEEDS = SHARED / "feeds"
FEED_FILES = sorted(p for p in FEEDS.rglob("*") if p.suffix in {".xml", ".atom", ".rss", ".html"})

LONG_TEXT = " ".join(
    f"Sentence {i} about the regulator's new duties for platforms to protect children online." for i in range(20)
)
PAGE = f"""<!DOCTYPE html><html lang="en"><head><title>Linked story | Example</title></head><body><article>
<h1>Linked story</h1><p>{LONG_TEXT}</p><p>{LONG_TEXT.replace("Sentence", "Line")}</p></article></body></html>"""


def rss(items: str, extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Example Safety News</title><link>https://news.example.org/</link><language>en-gb</language>{extra}
{items}</channel></rss>""".encode()


def item(title: str, link: str, summary: str = "", content: str = "", author: str = "") -> str:
    encoded = f"<content:encoded><![CDATA[{content}]]></content:encoded>" if content else ""
    return (
        f"<item><title>{title}</title><link>{link}</link><pubDate>Tue, 14 Mar 2023 09:30:00 GMT</pubDate>"
        f"<description><![CDATA[{summary}]]></description>{encoded}"
        f"{f'<author>{author}</author>' if author else ''}</item>"
    )


@pytest.fixture
def page_server() -> Iterator[str]:
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            requests.append(self.path)
            body, status = (PAGE.encode(), 200) if self.path == "/story" else (b"gone", 404)
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def config(tmp_path: Path, **overrides):
    return load_config(tmp_path / "data", {"fetch_allow_private": True, **overrides})


# -- the shared feeds: a result or a clear error, never a crash ----------------------------------------------


@pytest.mark.parametrize("path", FEED_FILES, ids=[p.relative_to(FEEDS).as_posix() for p in FEED_FILES])
def test_every_shared_feed_gives_articles_or_a_clear_error(path: Path, tmp_path: Path) -> None:
    data = path.read_bytes()
    if data.startswith(b"\x1f\x8b"):
        data = gzip.decompress(data)
    raw = RawDocument(str(path), data, "feed")
    try:
        items = list(extract_articles(raw, config(tmp_path, feed_fetch_links=False)))
    except ExtractionError as exc:
        assert str(exc).startswith(str(path)) and str(exc).endswith(".")
        return
    assert items
    for extracted in items:
        assert extracted.origin.startswith(f"{path}#")
        if extracted.error is not None:
            assert str(extracted.error).startswith(extracted.origin)
        else:
            assert extracted.article.title and extracted.article.body and extracted.article.fingerprint


@pytest.mark.parametrize(
    ("name", "entries"),
    [
        ("node-feedparser/rss2sample.xml", 4),
        ("node-feedparser/intertwingly.atom", 20),
        ("node-feedparser/tpm.atom", 20),
        ("node-feedparser/wapowellness.xml", 29),
        ("feedparser/wellformed_namespace_rss1.0withModules.xml", 1),  # RSS 1.0 (RDF)
        ("trafilatura/feed1.atom", 2),
    ],
)
def test_real_feeds_give_all_their_entries(name: str, entries: int) -> None:
    assert len(parse_feed((FEEDS / name).read_bytes(), name).entries) == entries


def test_a_feed_with_an_undeclared_legacy_encoding_is_decoded_and_the_problem_reported() -> None:
    feed = parse_feed((FEEDS / "feedparser/illformed_chardet_koi8r.xml").read_bytes(), "koi8r.xml")
    assert feed.entries[0].title == "Как пережить новогоднюю ночь"
    assert "encoding" in feed.problem


def test_a_malformed_feed_gives_the_entries_before_the_error_and_names_it() -> None:
    feed = parse_feed((FEEDS / "node-feedparser/saxerror.xml").read_bytes(), "saxerror.xml")
    assert len(feed.entries) == 3
    assert "not well-formed" in feed.problem


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("feedparser/illformed_rss_empty_document.xml", "is not a feed that could be read"),
        ("node-feedparser/notafeed.html", "is not a feed that could be read"),
        ("feedparser/illformed_always_strip_doctype.xml", "is a feed with no entries"),
    ],
)
def test_feeds_without_entries_fail_with_a_sentence(name: str, message: str) -> None:
    with pytest.raises(ExtractionError, match=message):
        parse_feed((FEEDS / name).read_bytes(), name)


def test_a_gzip_compressed_feed_file_is_read(archive: Archive) -> None:
    outcomes = list(ingest_sources(archive, [str(FEEDS / "node-feedparser/compressed.xml")]))
    assert len(outcomes) == 10
    assert {o.status for o in outcomes} <= {"added", "duplicate"}


def test_relative_entry_links_are_resolved_against_the_feed_url() -> None:
    data = (FEEDS / "node-feedparser/rss-with-relative-urls.xml").read_bytes()
    feed = parse_feed(data, "rel.xml", url="https://www.example.com/feeds/rss?utm_source=x")
    assert feed.link == "https://www.example.com/en/games/neverwinter/news"
    assert feed.entries[0].link.startswith("https://www.example.com/en/games/neverwinter/news/detail/10743874-")
    # Read from a file, a relative link has nothing to resolve against and is dropped, not kept broken.
    assert parse_feed(data, "rel.xml").entries[0].link is None


# -- the rule for an entry's body -------------------------------------------------------------------------------


def test_full_content_is_the_body(tmp_path: Path) -> None:
    content = f"<p>{LONG_TEXT}</p><p><img src='x.png' alt='a photo'>Second paragraph of the story.</p>"
    feed = parse_feed(rss(item("Full story", "https://news.example.org/a", "Teaser.", content)), "f.xml")
    article = entry_article(feed.entries[0], feed, "f.xml#1")
    assert article.body.split("\n\n") == [LONG_TEXT, "Second paragraph of the story."]
    assert not article.summary_only
    assert (article.title, article.published, article.source) == ("Full story", "2023-03-14", "Example Safety News")
    assert article.url == "https://news.example.org/a"
    assert "x.png" not in article.body and "a photo" not in article.body


def test_a_teaser_entry_takes_the_linked_page(tmp_path: Path, page_server: str) -> None:
    data = rss(item("Linked story", f"{page_server}/story", "A short teaser."))
    items = list(extract_articles(RawDocument("f.xml", data, "feed"), config(tmp_path)))
    article = items[0].article
    assert LONG_TEXT in article.body
    assert not article.summary_only
    assert article.title == "Linked story" and article.source == "Example Safety News"


def test_without_the_linked_page_the_summary_stands_in_and_is_flagged(tmp_path: Path, page_server: str) -> None:
    summary = "A short teaser about new rules for platforms."
    data = rss(item("Missing story", f"{page_server}/missing", summary))
    [extracted] = extract_articles(RawDocument("f.xml", data, "feed"), config(tmp_path))
    assert extracted.article.body == summary
    assert extracted.article.summary_only


def test_linked_pages_are_not_fetched_when_the_setting_is_off(tmp_path: Path, page_server: str) -> None:
    data = rss(item("Linked story", f"{page_server}/story", "A short teaser."))
    [extracted] = extract_articles(RawDocument("f.xml", data, "feed"), config(tmp_path, feed_fetch_links=False))
    assert extracted.article.summary_only and extracted.article.body == "A short teaser."


def test_content_shorter_than_the_threshold_is_a_teaser() -> None:
    short = " ".join(["word"] * (FULL_CONTENT_WORDS - 1))
    feed = parse_feed(rss(item("T", "https://news.example.org/t", content=f"<p>{short}</p>")), "f.xml")
    assert entry_article(feed.entries[0], feed, "f.xml#1").summary_only


def test_rss_author_email_gives_the_name() -> None:
    entry = item("A", "https://news.example.org/a", "s", author="jane@example.org (Jane Doe)")
    feed = parse_feed(rss(entry), "f.xml")
    assert feed.entries[0].authors == ["Jane Doe"]


def test_an_entry_with_nothing_in_it_fails_alone(tmp_path: Path) -> None:
    data = rss("<item><guid>x</guid></item>" + item("Good", "https://news.example.org/g", "A summary."))
    items = list(extract_articles(RawDocument("f.xml", data, "feed"), config(tmp_path, feed_fetch_links=False)))
    assert "no title, text or summary" in str(items[0].error)
    assert items[1].article.title == "Good"


def test_ingesting_a_feed_twice_adds_each_entry_once(archive: Archive, tmp_path: Path) -> None:
    archive.config = load_config(archive.data_dir, {"feed_fetch_links": False})
    path = tmp_path / "news.rss"
    entries = [item(f"Story {n}", f"https://news.example.org/{n}", f"Summary number {n} of the feed.") for n in "abc"]
    path.write_bytes(rss("".join(entries)))
    first = list(ingest_sources(archive, [str(path)]))
    assert [o.status for o in first] == ["added"] * 3
    assert [o.source for o in first] == [f"{path}#{n}" for n in (1, 2, 3)]
    again = list(ingest_sources(archive, [str(path)]))
    assert [o.status for o in again] == ["duplicate"] * 3


def test_entries_sharing_a_summary_are_not_duplicates_of_each_other(archive: Archive) -> None:
    archive.config = load_config(archive.data_dir, {"feed_fetch_links": False})
    outcomes = list(ingest_sources(archive, [str(FEEDS / "trafilatura/feed1.atom")]))  # both say "Some text."
    assert [o.status for o in outcomes] == ["added", "added"]

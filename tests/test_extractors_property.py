"""Every extractor, fed random bytes or random markup, gives a result or a clean ArchiveError: never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.config import load_config
from archive.errors import ArchiveError
from ingest.clean import decode_bytes
from ingest.feeds import entry_article, parse_feed
from ingest.html import extract_html_article
from ingest.pipeline import extract_articles
from ingest.records import parse_records, record_article
from ingest.sources import RawDocument, sniff_kind
from ingest.text import extract_markdown_article, extract_text_article

CONFIG = load_config(Path("/nonexistent-data-dir"), {"feed_fetch_links": False})
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TAGS = ["html", "head", "title", "body", "article", "main", "div", "p", "h1", "h2", "span", "a", "img", "figure",
        "figcaption", "script", "style", "nav", "footer", "time", "table", "tr", "td", "ul", "li", "br", "meta",
        "rss", "channel", "item", "feed", "entry", "link", "description", "content"]  # fmt: skip
ATTRIBUTES = ["", ' class="related-card"', ' datetime="2021-13-45"', ' lang="xx-YY"',
              ' property="og:title" content="&amp;amp;"', ' href="javascript:x"']  # fmt: skip
WORDS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=40)


@st.composite
def markup(draw, depth: int = 0) -> str:
    """Random, often unbalanced, tag soup with attributes, entities and text."""
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        choice = draw(st.integers(0, 5))
        tag = draw(st.sampled_from(TAGS))
        if choice == 0:
            parts.append(draw(WORDS))
        elif choice == 1 and depth < 4:
            attr = draw(st.sampled_from(ATTRIBUTES))
            parts.append(f"<{tag}{attr}>{draw(markup(depth + 1))}</{tag}>")
        elif choice == 2:
            parts.append(f"<{tag}>")
        elif choice == 3:
            parts.append(draw(st.sampled_from(["&amp;", "&#0;", "&#xD800;", "&bogus;", "<!--", "]]>", "<![CDATA["])))
        elif choice == 4:
            parts.append('<script type="application/ld+json">' + draw(WORDS) + "</script>")
        else:
            parts.append(f"</{tag}>")
    return "".join(parts)


def survives(call) -> None:
    try:
        call()
    except ArchiveError as exc:
        assert str(exc).strip()


@SETTINGS
@given(st.binary(max_size=3000))
def test_random_bytes_through_every_kind(data: bytes) -> None:
    for kind in ("html", "text", "markdown", "feed", "records"):
        survives(lambda kind=kind: list(extract_articles(RawDocument("r", data, kind), CONFIG)))
    assert sniff_kind(data) in {"html", "text", "markdown", "feed", "records"}


@SETTINGS
@given(markup())
def test_random_html(html: str) -> None:
    survives(lambda: extract_html_article(html, "r.html", url="https://example.org/a"))


@SETTINGS
@given(markup())
def test_random_feeds(body: str) -> None:
    def run() -> None:
        feed = parse_feed(f"<?xml version='1.0'?><rss version='2.0'><channel>{body}".encode(), "f.xml")
        for entry in feed.entries:
            survives(lambda entry=entry: entry_article(entry, feed, "f.xml#1"))

    survives(run)


@SETTINGS
@given(st.text(max_size=2000))
def test_random_text_and_markdown(text: str) -> None:
    survives(lambda: extract_text_article(text, "r.txt"))
    survives(lambda: extract_markdown_article(text, "r.md"))


@SETTINGS
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["title", "text", "html", "url", "date", "author", "source", "language",
                                         "articles", "authors", "publisher"]), inner, max_size=6),
                    max_leaves=12))  # fmt: skip
def test_random_json_records(value) -> None:
    import json

    def run() -> None:
        for origin, record in parse_records(json.dumps(value), "r.json"):
            if isinstance(record, dict):
                survives(lambda record=record, origin=origin: record_article(record, origin))

    survives(run)


@pytest.mark.parametrize("data", [b"\xff\xfe\x00\x00", b"\x1f\x8b\x08\x00", b"\x00" * 10, b"<?xml"])
def test_awkward_byte_strings(data: bytes) -> None:
    survives(lambda: decode_bytes(data, "r"))

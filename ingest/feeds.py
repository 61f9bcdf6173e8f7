"""RSS 0.9x/1.0/2.0, Atom and RDF feeds (feedparser): each entry becomes an article.

An entry's body is its full content when that is substantial, else the page it links to (fetched),
else its summary, and the article is then flagged as summary-only. A malformed feed gives the
entries that could be read and a sentence naming the problem; a feed with no readable entry is a
clear failure.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

import feedparser

from archive.errors import ArchiveError, ExtractionError
from archive.models import Article

from .clean import decode_bytes, normalize_line, word_count
from .fragments import fragment_text
from .html import authors_from_byline, clean_url, person_names
from .text import derive_title, split_paragraphs

LOGGER = logging.getLogger(__name__)

MAX_FEED_ENTRIES = 1000  # entries read from one feed; the rest are reported, not ingested
FULL_CONTENT_WORDS = 100
_ENCODING_DECLARATION = re.compile(
    r"""(<\?xml[^>]*encoding=["'])[^"']*(["'])"""
)  # an entry's own content with fewer words is a teaser, not the article


@dataclass
class FeedEntry:
    number: int  # 1-based position in the feed
    title: str | None
    link: str | None
    authors: list[str]
    published: str | None
    content: str  # text of the entry's full content, if any
    summary: str  # text of its summary or description
    key: str = ""  # what identifies the entry from one fetch of the feed to the next (id, link or title)


@dataclass
class Feed:
    title: str | None
    link: str | None
    language: str | None
    entries: list[FeedEntry] = field(default_factory=list)
    problem: str | None = None  # what was wrong with a feed that could still be read


def _date(entry) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            return time.strftime("%Y-%m-%d", value)
    return None


def _authors(entry) -> list[str]:
    found: list[str] = []
    for name in person_names(entry.get("authors")) or person_names(entry.get("author")):
        # RSS gives "jane@example.org (Jane Doe)": the name in brackets is the person.
        if "@" in name and "(" in name:
            name = name[name.index("(") + 1 :].rstrip(")")
        found.extend(n for n in authors_from_byline(name) if "@" not in n)
    return list(dict.fromkeys(found))


def _entry_key(entry) -> str:
    """The entry's id (RSS guid, Atom id), else its link, else its title and date."""
    for value in (entry.get("id"), entry.get("link")):
        if isinstance(value, str) and value.strip():
            return value.strip()[:1000]
    return f"{entry.get('title', '')}|{entry.get('published', '') or entry.get('updated', '')}"[:1000]


def _problem(parsed) -> str | None:
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    text = str(exc).strip() if exc else ""
    return text or (type(exc).__name__ if exc else "the feed is malformed")


def _parse(data: bytes, origin: str):
    """feedparser's result; bytes, never a str, which feedparser would read as a URL or path."""
    try:
        return feedparser.parse(data)
    except Exception as exc:  # feedparser fails in its own ways on hostile input (surrogate character references)
        raise ExtractionError(f"{origin} could not be parsed as a feed ({type(exc).__name__}).") from None


def parse_feed(data: bytes, origin: str, url: str | None = None) -> Feed:
    """The feed's entries, or ExtractionError when nothing in it can be read as a feed.

    `url` is where the feed was fetched from: relative links resolve against it.
    """
    parsed = _parse(data, origin)
    if isinstance(parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride):
        # The declared encoding was wrong or missing and feedparser guessed: charset-normalizer guesses better.
        try:
            text = decode_bytes(data, origin)
        except ExtractionError:
            pass
        else:
            text = _ENCODING_DECLARATION.sub(r"\1utf-8\2", text, count=1)
            parsed = _parse(text.encode("utf-8"), origin)
            if not parsed.get("bozo"):
                parsed["bozo"], parsed["bozo_exception"] = 1, "its declared encoding was missing or wrong; detected"
    info = parsed.get("feed", {})
    problem = _problem(parsed)
    if not parsed.entries:
        if problem:
            raise ExtractionError(f"{origin} is not a feed that could be read ({problem}).")
        if not parsed.get("version"):
            raise ExtractionError(f"{origin} is not an RSS or Atom feed.")
        raise ExtractionError(f"{origin} is a feed with no entries.")
    feed = Feed(
        title=normalize_line(info.get("title")),
        link=clean_url(urljoin(url or "", info.get("link") or "")),
        language=(info.get("language") or "").split("-")[0].lower() or None,
        problem=problem,
    )
    if len(parsed.entries) > MAX_FEED_ENTRIES:
        extra = f"only the first {MAX_FEED_ENTRIES:,} of {len(parsed.entries):,} entries were read"
        feed.problem = f"{feed.problem}; {extra}" if feed.problem else extra
    for number, entry in enumerate(parsed.entries[:MAX_FEED_ENTRIES], start=1):
        contents = [c.get("value", "") for c in entry.get("content", []) if isinstance(c, dict)]
        feed.entries.append(
            FeedEntry(
                number=number,
                title=normalize_line(fragment_text(entry.get("title", ""))),
                link=clean_url(urljoin(feed.link or url or "", entry.get("link") or "")),
                authors=_authors(entry),
                published=_date(entry),
                content=max((fragment_text(c) for c in contents), key=word_count, default=""),
                summary=fragment_text(entry.get("summary", "")),
                key=_entry_key(entry),
            )
        )
    return feed


def entry_article(
    entry: FeedEntry, feed: Feed, origin: str, fetch_page: Callable[[str], Article] | None = None
) -> Article:
    """The article for one entry: full content, else the linked page, else the summary (flagged)."""
    page: Article | None = None
    if word_count(entry.content) >= FULL_CONTENT_WORDS:
        body, summary_only = entry.content, False
    else:
        if entry.link and fetch_page is not None:
            try:
                page = fetch_page(entry.link)
            except ArchiveError as exc:
                LOGGER.info("%s: the linked page gave no article (%s); using the summary", origin, exc)
        if page is not None:
            body, summary_only = page.body, False
        else:
            body = max((entry.content, entry.summary), key=word_count)
            summary_only = True
    if not body.strip():
        body = entry.title or ""
    if not body.strip():
        raise ExtractionError(f"{origin} is a feed entry with no title, text or summary.")
    title = entry.title or (page.title if page else None) or derive_title(split_paragraphs(body)[0])
    return Article(
        title=title,
        body=body,
        url=entry.link or (page.url if page else None),
        canonical_url=(page.canonical_url if page else None) or entry.link,
        source=feed.title or (page.source if page else None),
        author=", ".join(entry.authors) or (page.author if page else None),
        published=entry.published or (page.published if page else None),
        language=(page.language if page else None) or feed.language,
        origin=origin,
        summary_only=summary_only,
    )

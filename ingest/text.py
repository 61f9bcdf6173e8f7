"""Plain-text articles: headline, byline, dateline and reading-time lines, trailing boilerplate."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from markdown_it import MarkdownIt

from archive.errors import ExtractionError
from archive.models import Article

from .clean import normalize_line, normalize_text
from .fragments import fragment_text

_MARKDOWN = MarkdownIt("commonmark", {"html": True})
TITLE_MAX_CHARS = 150
DERIVED_TITLE_CHARS = 120
MIN_BODY_WORDS = 25
HEADER_LINES = 5  # how far below the headline a byline, dateline or reading-time line may sit
TRAILER_LINES = 8  # how far above the end a trailer line may open the page's closing furniture

_READING_TIME = re.compile(r"^[·•|\-–—\s]*\d+\s*[-–]?\s*min(?:ute)?s?\.?\s*read\s*$", re.I)
_SOURCE_LINE = re.compile(r"^(?:source|publication|published in)\s*:\s*(?P<name>.{2,80})$", re.I)
_BYLINE = re.compile(r"^(?:by|written by|words by)\s+(?P<name>[^\d].{1,80})$", re.I)
_NAME = re.compile(r"^(?:[A-Z][\w'’.-]+)(?:\s+(?:[A-Z][\w'’.-]+|van|von|de|der|da|del|la|le|bin|al)){1,4}$")
_DATELINE_PREFIX = re.compile(
    r"^(?:published|posted|updated|last updated|first published|date)(?:\s+on)?\s*:?\s*", re.I
)
_DATE_FORMATS = (
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%Y-%m-%d",
    "%A %d %B %Y",
    "%A, %d %B %Y",
)
_TRAILERS = re.compile(
    r"^(?:related(?:\s+\w+)?\s+(?:articles?|posts?|stories|reading|content|links)|related|"
    r"share(?:\s+this)?(?:\s+(?:article|story|post|page))?(?:\s+on\s+\w+)?|"
    r"(?:sign\s+up|subscribe)\b.*|read\s+more\b.*|more\s+from\b.*|follow\s+us\b.*|"
    r"advertisement|tags?\s*:.*|comments?(?:\s*\(\d+\))?|print|email|"
    r"©.*|(?:copyright|\(c\))\s*©?\s*\d{4}\b.*)\s*[.:!]?$",
    re.I,
)
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’)]))\s+(?=[A-Z“\"‘'])")
# A full stop after these (or after an initial, "J. K. Rowling") does not end a sentence.
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sir|St|Sgt|Insp|Det|Supt|Gen|Col|Lt|Capt|Rev|Jr|Sr|No|Co|Inc|Ltd|vs)|\b[A-Z])\.$"
)
_ENDS_LIKE_SENTENCE = re.compile(r"[.!?:;,][\"”’')]*$")


def parse_dateline(line: str) -> str | None:
    """YYYY-MM-DD from a dateline such as "Published 14 March 2019" or "March 14, 2019", else None."""
    text = _DATELINE_PREFIX.sub("", line.strip()).strip(" .")
    text = re.sub(r"(\d+)(?:st|nd|rd|th)\b", r"\1", text)
    text = re.split(r"\s+(?:at\s+)?\d{1,2}[:.]\d{2}", text)[0].strip(" ,")
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).strftime("%Y-%m-%d")
        except ValueError:
            continue
    return None


def looks_like_title(line: str) -> bool:
    """Short, and no closing full stop: a headline rather than a lead paragraph."""
    return len(line) <= TITLE_MAX_CHARS and len(line.split()) <= 25 and not _ENDS_LIKE_SENTENCE.search(line)


def derive_title(paragraph: str) -> str:
    """A title from a lead paragraph: its first sentence, cut at a clause break when long."""
    ends = (m.start() for m in _SENTENCE_END.finditer(paragraph) if not _ABBREVIATION.search(paragraph[: m.start()]))
    sentence = paragraph[: next(ends, len(paragraph))].strip()
    sentence = re.sub(r"[.!?]+(?=[\"”’)]*$)", "", sentence)
    if len(sentence) <= DERIVED_TITLE_CHARS:
        return sentence
    breaks = [m.start() for m in re.finditer(r"[,;:](?=\s)|\s[–—]\s", sentence) if 60 <= m.start() <= 170]
    if breaks:
        return sentence[: breaks[0]].strip()
    return sentence[:DERIVED_TITLE_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def split_paragraphs(text: str) -> list[str]:
    """Blocks separated by blank lines, each joined into one line; one line each if there are no blanks."""
    if "\n\n" not in text:
        return [line for line in text.split("\n") if line]
    return [" ".join(block.split("\n")) for block in text.split("\n\n") if block.strip()]


@dataclass
class Header:
    """What the lines under a headline said, and how many lines they took."""

    author: str | None = None
    date: str | None = None
    source: str | None = None
    used: int = 0


def _parse_header(lines: list[str]) -> Header:
    """Byline, dateline, reading-time and "Source:" lines just below the title."""
    author = date = source = None
    used = 0
    for i, line in enumerate(lines[:HEADER_LINES]):
        if not line:
            continue
        parts = [p.strip() for p in re.split(r"\s+[|·•]\s*|\s*[|·•]\s+", line) if p.strip()]
        matched = True
        for part in parts:
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if _READING_TIME.match(part) or _READING_TIME.match("·" + part):
                continue
            if (found := parse_dateline(part)) and date is None:
                date = found
            elif (m := _BYLINE.match(part)) and author is None:
                author = m["name"].strip(" .")
            elif (m := _SOURCE_LINE.match(part)) and source is None:
                source = m["name"].strip(" .")
            elif (
                _NAME.match(part)
                and author is None
                and (len(parts) > 1 or _READING_TIME.match(nxt) or parse_dateline(nxt))
            ):
                author = part
            else:
                matched = False
        if not matched:
            break
        used = i + 1
    return Header(author, date, source, used)


def _is_headline(lines: list[str]) -> bool:
    """The first line looks like a title and stands alone, rather than opening a hard-wrapped paragraph."""
    if not looks_like_title(lines[0]):
        return False
    if len(lines) < 2 or not lines[1] or _parse_header(lines[1:]).used:
        return True
    # In wrapped text the next line's first word would not have fitted on this one.
    return len(lines[0]) + 1 + len(lines[1].split()[0]) <= max(map(len, lines))


def _strip_trailers(lines: list[str]) -> list[str]:
    """Without the closing furniture: trailer lines at the end, and the short lines that follow a trailer
    near the end ("Share this article" / "The Northgate Post", "Related articles" / their headlines)."""
    while lines and (not lines[-1] or _TRAILERS.match(lines[-1])):
        lines.pop()
    for i in range(max(len(lines) - TRAILER_LINES, 0), len(lines)):
        if _TRAILERS.match(lines[i]) and all(
            len(line) <= 80 and not _ENDS_LIKE_SENTENCE.search(line) for line in lines[i + 1 :]
        ):
            lines = lines[:i]
            break
    while lines and not lines[-1]:
        lines.pop()
    return lines


def extract_text_article(text: str, origin: str) -> Article:
    """An article from plain text: headline or derived title, byline, dateline, source, body paragraphs."""
    lines = _strip_trailers(normalize_text(text).split("\n"))
    if not lines:
        raise ExtractionError(f"{origin} has no article text.")
    title = None
    if _is_headline(lines):
        title, lines = lines[0], lines[1:]
    header = _parse_header(lines)
    body_text = "\n".join(lines[header.used :]).strip()
    paragraphs = split_paragraphs(body_text)
    if title is None and paragraphs:
        title = derive_title(paragraphs[0])
    body = "\n\n".join(paragraphs)
    if len(body.split()) < MIN_BODY_WORDS:
        raise ExtractionError(f"{origin} has too little text to be an article ({len(body.split())} words).")
    return Article(
        title=normalize_line(title) or "",
        body=body,
        author=normalize_line(header.author),
        published=header.date,
        source=normalize_line(header.source),
        origin=origin,
    )


def markdown_to_text(markdown: str) -> str:
    """Markdown as plain paragraphs: syntax (emphasis, links, lists, headings, code fences) removed."""
    return fragment_text(_MARKDOWN.render(markdown))


def extract_markdown_article(markdown: str, origin: str) -> Article:
    """An article from a Markdown file: its first heading as the headline, then as plain text."""
    return extract_text_article(markdown_to_text(markdown), origin)

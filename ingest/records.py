"""JSON and JSON Lines records from other tools: title, url, date, author, and text or html, one article each.

A file holds a JSON array of records, one record, an object with an "articles" or "items" array, or
JSON Lines (one record per line). A line that is not JSON, or a record without text, fails on its
own and the rest are still read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from archive.errors import ArchiveError, ExtractionError
from archive.models import Article

from .clean import normalize_line, normalize_text
from .dates import iso_date
from .html import choose_authors, clean_url, extract_html_article, person_names
from .text import MIN_BODY_WORDS, derive_title, split_paragraphs

# Field names other tools use for the same thing, ours first.
TITLE_KEYS = ("title", "headline", "name")
URL_KEYS = ("url", "link", "canonical_url", "href")
DATE_KEYS = ("date", "published", "publish_date", "published_at", "datePublished", "pubDate", "created_at")
AUTHOR_KEYS = ("author", "authors", "byline", "creator")
SOURCE_KEYS = ("source", "publisher", "site", "site_name", "media_name", "outlet")
TEXT_KEYS = ("text", "body", "content", "main_content", "articleBody", "full_text")
HTML_KEYS = ("html", "raw_html", "content_html")

Parsed = tuple[str, dict | ExtractionError]


def parse_records(text: str, origin: str) -> Iterator[Parsed]:
    """(origin of each record, the record or why it could not be read)."""
    stripped = text.lstrip()
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        whole = None
        if stripped.startswith("[") or "\n" not in stripped.strip():
            raise ExtractionError(f"{origin} is not valid JSON or JSON Lines.") from None
    if whole is not None:
        if isinstance(whole, dict):
            nested = next((whole[k] for k in ("articles", "items", "records") if isinstance(whole.get(k), list)), None)
            whole = nested if nested is not None else [whole]
        if not isinstance(whole, list):
            raise ExtractionError(f"{origin} holds JSON that is neither a record nor a list of records.")
        for number, record in enumerate(whole, start=1):
            yield _checked(record, f"{origin}#{number}")
        return
    for number, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{origin}:{number}"
        try:
            yield _checked(json.loads(line), where)
        except json.JSONDecodeError as exc:
            yield where, ExtractionError(f"{where} is not valid JSON ({exc.msg}).")


def _checked(record: object, where: str) -> Parsed:
    if not isinstance(record, dict):
        return where, ExtractionError(f"{where} is not a JSON object with article fields.")
    return where, record


def _first(record: dict, keys: tuple[str, ...]):
    return next((record[k] for k in keys if record.get(k) not in (None, "", [])), None)


def record_article(record: dict, origin: str) -> Article:
    """The article a record describes; the record's own fields win over what its html says."""
    title = _first(record, TITLE_KEYS)
    url = _first(record, URL_KEYS)
    url = url if isinstance(url, str) else None
    text, html = _first(record, TEXT_KEYS), _first(record, HTML_KEYS)
    if isinstance(html, str) and html.strip() and not (isinstance(text, str) and text.strip()):
        try:
            article = extract_html_article(html, origin, url=url)
        except ArchiveError as exc:
            raise ExtractionError(f"{origin}: {exc}") from None
    elif isinstance(text, str) and text.strip():
        body = "\n\n".join(split_paragraphs(normalize_text(text)))
        if len(body.split()) < MIN_BODY_WORDS:
            raise ExtractionError(f"{origin} has too little text to be an article ({len(body.split())} words).")
        article = Article(title="", body=body, url=clean_url(url), canonical_url=clean_url(url), origin=origin)
    else:
        raise ExtractionError(f"{origin} has neither text nor html (fields {', '.join(TEXT_KEYS + HTML_KEYS)}).")
    article.origin = origin
    if isinstance(title, str) and normalize_line(title):
        article.title = normalize_line(title) or ""
    if not article.title:
        article.title = derive_title(split_paragraphs(article.body)[0])
    if date := iso_date(str(_first(record, DATE_KEYS) or "")):
        article.published = date
    if author := choose_authors(person_names(_first(record, AUTHOR_KEYS)), None, None):
        article.author = author
    source = _first(record, SOURCE_KEYS)
    if isinstance(source, dict):
        source = source.get("name")
    if isinstance(source, str) and normalize_line(source):
        article.source = normalize_line(source)
    language = record.get("language")
    if isinstance(language, str) and language.strip():
        article.language = language.strip().split("-")[0].lower()
    return article

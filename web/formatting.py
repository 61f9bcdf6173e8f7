"""Jinja filters that turn archive values into text a reader expects: dates, scores, paragraphs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Flask
from markupsafe import Markup, escape

from .extension import get_archive

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_MARK_TAG = re.compile(r"</?mark>")


def format_date(value: str | None) -> str:
    """'2019-03-14' -> '14 Mar 2019'; partial dates keep their precision; None -> 'date unknown'."""
    if not value:
        return "date unknown"
    parts = value.split("-")
    try:
        numbers = [int(p) for p in parts]
        if len(numbers) == 1:
            return f"{numbers[0]:04d}"
        month = _MONTHS[numbers[1] - 1]
        if len(numbers) == 2:
            return f"{month} {numbers[0]:04d}"
        return f"{numbers[2]} {month} {numbers[0]:04d}"
    except (ValueError, IndexError):
        return value


def format_timestamp(value: str | None) -> str:
    """An ISO timestamp as '21 Nov 2024, 18:36 UTC'; anything unreadable is shown as given."""
    if not value:
        return "unknown"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}, {moment:%H:%M} UTC"


def format_ms(value: float) -> str:
    """Milliseconds with one decimal below 10 ms, whole numbers above."""
    return f"{value:.1f} ms" if value < 10 else f"{value:,.0f} ms"


def format_count(value: int) -> str:
    return f"{value:,}"


def paragraphs(body: str | None) -> list[str]:
    """The body's paragraphs (separated by blank lines), stripped, empty ones dropped."""
    return [p.strip() for p in _PARAGRAPH_BREAK.split(body or "") if p.strip()]


def highlighted(html: str | None) -> Markup:
    """Mark safe an archive snippet whose only markup is <mark>; anything else is escaped.

    The archive promises that snippets and highlighted titles hold escaped text plus <mark>
    tags. We check the promise rather than trust it, because |safe on a broken promise is XSS.
    """
    text = html or ""
    unmarked = _MARK_TAG.sub("", text)
    if "<" in unmarked or ">" in unmarked:
        return escape(text)
    return Markup(text)


def external_url(url: str | None) -> str | None:
    """The URL when it is a web address a reader may follow, else None (no javascript: links)."""
    if url and urlsplit(url.strip()).scheme.lower() in {"http", "https"}:
        return url.strip()
    return None


def host_of(url: str | None) -> str:
    """The host name of a URL, without 'www.'."""
    host = urlsplit(url or "").hostname or ""
    return host.removeprefix("www.")


# Names for the languages the archive most often holds; any other code is shown as the code itself.
LANGUAGE_NAMES = {
    "ar": "Arabic", "bg": "Bulgarian", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "fi": "Finnish", "fr": "French", "ga": "Irish",
    "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian", "mt": "Maltese", "nl": "Dutch", "no": "Norwegian",
    "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian",
    "sv": "Swedish", "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "vi": "Vietnamese", "zh": "Chinese",
}  # fmt: skip


def language_name(code: str | None) -> str:
    """'en' -> 'English'; an unlisted code is shown as given."""
    return LANGUAGE_NAMES.get((code or "").lower(), code or "unknown")


def topic_label(name: str) -> str:
    """The taxonomy's label for a topic name ('law_enforcement' -> 'Law enforcement')."""
    return get_archive().taxonomy.label(name)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        topic_label=topic_label,
        language_name=language_name,
        format_date=format_date,
        format_timestamp=format_timestamp,
        format_ms=format_ms,
        format_count=format_count,
        paragraphs=paragraphs,
        highlighted=highlighted,
        external_url=external_url,
        host_of=host_of,
    )

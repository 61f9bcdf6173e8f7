"""Publication dates of web pages: the date shown by the headline, htmldate's search of the page,
JSON-LD and meta tags, with modification dates and other articles' dates (teasers, related cards)
kept out."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlsplit

from htmldate import find_date
from lxml import etree

from .clean import holds_run, word_list
from .text import parse_dateline

LOGGER = logging.getLogger(__name__)

PUBLISHED_META = (
    "article:published_time",
    "datePublished",
    "pubdate",
    "publish-date",
    "publish_date",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
)

MODIFIED_META = ("article:modified_time", "og:updated_time", "dateModified", "last-modified")

_MODIFIED_TAGS = "|".join(f"//*[@{a}='{key}']" for a in ("property", "name", "itemprop") for key in MODIFIED_META)

SHOWN_DATE_BEFORE, SHOWN_DATE_AFTER, SHOWN_DATE_LINE_CHARS = 300, 600, 80  # see shown_dates
NOTE_LINE_CHARS = 300  # see published_notes

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"

_SHOWN_DATE = re.compile(
    rf"\b(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{4})(?!\d)",
    re.I,
)

_DATE_LABEL = re.compile(r"\b(published|posted|updated|modified|reviewed|revised)\b\W*(?:on\b)?\W*$", re.I)

_LABEL_KINDS = dict.fromkeys(("published", "posted"), "published") | dict.fromkeys(("updated", "modified"), "updated")

_PUBLISHED_NOTE = re.compile(rf"\b(originally\s+)?(?:published|posted)\s*:?\s+(?:on\s+)?({_SHOWN_DATE.pattern})", re.I)

_EXSLT = {"re": "http://exslt.org/regular-expressions"}

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")

_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-](\d{2})[/-](\d{2})(?:[/-]|\.html?$|$)")

_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b")

# An element with one of these classes belongs to another article (a teaser, a comment), not to this one.
_NOT_THIS_ARTICLE = re.compile(
    r"(?:^|\s)(?:card|cards|related|teaser|comments?|sidebar|widget|recommend\w*|promo)(?:$|[\s_-])", re.I
)


def iso_date(value: str | None) -> str | None:
    """YYYY-MM-DD from a metadata date: ISO 8601, "14 March 2021", or day/month/year where unambiguous."""
    if not value:
        return None
    if match := _ISO_DATE.search(value):
        return "-".join(match.groups())
    if match := _NUMERIC_DATE.search(value):
        first, second, year = (int(g) for g in match.groups())
        # Day and month can only be told apart when one is over 12, or when they are the same.
        day, month = (first, second) if first > 12 or first == second else (second, first) if second > 12 else (0, 0)
        return f"{year:04d}-{month:02d}-{day:02d}" if 1 <= month <= 12 and 1 <= day <= 31 else None
    return parse_dateline(value)


def choose_date(
    tree: etree._Element | None,
    url: str | None,
    title: str | None,
    published_ld: list[str | None],
    modified_ld: list[str | None],
    published_meta: str | None,
) -> str | None:
    """The publication date, from the strongest evidence the page gives:

    1. a full date in the URL's path: publishing systems write it when the article first goes out;
    2. a note that the article was "originally published" on a date;
    3. the date shown by the headline, labelled "Published" or "Posted", or unlabelled. An unlabelled
       one does not count when it is a modification date the page declares, or later than the last
       declared modification (an update's or another article's). When it is the declared publication
       time as a clock in another time zone shows it, the declared date is the publisher's own;
    4. a date labelled "Published" or "Posted" on a line of its own elsewhere in the article;
    5. the declared publication date (JSON-LD, then meta tags), unless the page shows an update
       before it: a page is not updated before it is published, so that declaration is a later
       re-publication;
    6. an "Updated" date shown by the headline when no other date is shown there: the only date
       the page gives for itself beats a guess;
    7. htmldate's search of the page (a guess among many dates), else the first <time>.

    "Reviewed" dates are never publication dates. All but the headline's dates and the metadata
    are read from the page without navigation, asides, footers and teaser cards, whose dates belong
    to other articles.
    """
    if from_url := url_date(url):
        return from_url
    declared = next((value for value in [*published_ld, published_meta] if iso_date(value)), None)
    published = iso_date(declared)
    if tree is None:
        return published
    own = _without_other_articles(tree, title)
    notes = published_notes(own)
    if notes.original:
        return notes.original
    modified = modification_dates(tree, modified_ld)
    shown = shown_dates(tree, title)
    unlabelled = shown.unlabelled
    if unlabelled and (unlabelled in modified or (modified and unlabelled > max(modified))):
        unlabelled = None
    if visible := shown.published or unlabelled:
        return published if visible != published and _same_moment(visible, declared) else visible
    if notes.labelled:
        return notes.labelled
    if published and not (shown.updated and shown.updated < published):
        return published
    if shown.updated and not shown.unlabelled:
        return shown.updated
    time_value = next(iter(own.xpath("//time/@datetime")), None)
    return _htmldate(own, url) or iso_date(str(time_value) if time_value else None)


class PublishedNotes(NamedTuple):
    """Dates the article's own text labels as its publication, away from the headline."""

    original: str | None  # "This article was originally published on 26 Sep 2019"
    labelled: str | None  # the first "Published August 13, 2025" standing on a line of its own


def published_notes(tree: etree._Element) -> PublishedNotes:
    """The article's publication notes. A label counts on a short line (its element, or the parent
    that holds the date beside it); a date in a sentence of the story ("the report, published on
    3 March") is the story's, not the page's."""
    labelled = None
    for text in tree.xpath("//body//text()[re:test(., 'published|posted', 'i')]", namespaces=_EXSLT):
        element = text.getparent()
        for _ in range(2):
            if not isinstance(element, etree._Element) or element.tag in ("script", "style"):
                break
            line = " ".join(" ".join(element.itertext()).split())
            if len(line) > NOTE_LINE_CHARS:
                break
            if match := _PUBLISHED_NOTE.search(line):
                date = _date_value(match.group(2))
                if date and match.group(1):
                    return PublishedNotes(date, labelled)
                if date and match.start() == 0 and len(line) <= SHOWN_DATE_LINE_CHARS:
                    labelled = labelled or date
                break
            element = element.getparent()
    return PublishedNotes(None, labelled)


def _same_moment(shown: str, declared: str | None) -> bool:
    """Whether a shown date is the declared publication time as a clock in some time zone
    (UTC-12 to UTC+14) reads: pages show their date in the reader's or the newsroom's zone."""
    try:
        moment = datetime.fromisoformat((declared or "").strip())
    except ValueError:
        return False
    if moment.tzinfo is None:
        return False
    earliest, latest = (moment.astimezone(UTC) + timedelta(hours=h) for h in (-12, 14))
    return earliest.date().isoformat() <= shown <= latest.date().isoformat()


def url_date(url: str | None) -> str | None:
    """YYYY-MM-DD from a URL path that holds a full date: /2021/01/18/slug, /2021-01-18-slug."""
    match = _URL_DATE.search(urlsplit(url).path) if url else None
    if not match:
        return None
    try:
        return datetime(*(int(part) for part in match.groups())).strftime("%Y-%m-%d")
    except ValueError:  # /2021/13/45/ is no date
        return None


def _htmldate(tree: etree._Element, url: str | None) -> str | None:
    try:
        return find_date(tree, original_date=True, extensive_search=True, url=url)
    except Exception:  # htmldate gives up on odd pages in its own ways; our chain follows
        LOGGER.debug("htmldate failed", exc_info=True)
        return None


def modification_dates(tree: etree._Element, modified_ld: list[str | None]) -> set[str]:
    """The dates the page declares as modifications: JSON-LD dateModified and modified-time tags."""
    values = list(modified_ld)
    for tag in tree.xpath(_MODIFIED_TAGS):
        values.append(tag.get("content") or tag.get("datetime"))
    return {date for value in values if (date := iso_date(value))}


class ShownDates(NamedTuple):
    """Dates shown nearest the headline: labelled "Published"/"Posted", and unlabelled (dates labelled
    "Updated", "Modified", "Revised" or "Reviewed" are neither)."""

    published: str | None
    unlabelled: str | None
    updated: str | None


def shown_dates(tree: etree._Element, title: str | None) -> ShownDates:
    """The dates shown nearest the headline, by label.

    A shown date stands on a short line of its own (a byline, a dateline, a <time>) within a few
    hundred characters of the headline; dates inside sentences belong to the story, not to the page.
    """
    found: dict[str, str] = {}
    lines = _lines_near(tree, _headline_element(tree, title))
    for _, context, line in lines:
        for match in _SHOWN_DATE.finditer(line if len(line) <= SHOWN_DATE_LINE_CHARS else ""):
            date = _date_value(match.group(0))
            label = _DATE_LABEL.search((context + " " + line[: match.start()])[-40:])
            kind = _LABEL_KINDS.get(label.group(1).lower(), "") if label else "unlabelled"
            if date and kind:
                found.setdefault(kind, date)
    return ShownDates(found.get("published"), found.get("unlabelled"), found.get("updated"))


def _headline_element(tree: etree._Element, title: str | None) -> etree._Element | None:
    """The first heading (<h1> to <h3>) that shows the title's words, else the first <h1>."""
    wanted = word_list(title or "")
    for heading in tree.iter("h1", "h2", "h3"):
        seen = word_list(" ".join(heading.itertext()))
        if seen == wanted or holds_run(seen, wanted):
            return heading
    return next(tree.iter("h1"), None)


def _lines_near(tree: etree._Element, element: etree._Element | None) -> list[tuple[int, str, str]]:
    """Text lines within a few hundred characters before and after `element`, nearest first, as
    (distance, the end of the line before, line); a <time> adds its datetime as a line of its own,
    which is not "the line before" its text: a label ("Updated") stays with the date it labels."""
    lines: list[str] = []
    datetimes: set[int] = set()
    start = end = None
    for event, node in _walk(tree):
        if node is element and event == "start":
            start = len(lines)
        elif node is element:
            end = len(lines)
        if event == "start" and node.tag == "time" and node.get("datetime"):
            datetimes.add(len(lines))
            lines.append(node.get("datetime"))
        readable = isinstance(node.tag, str) and node.tag not in ("script", "style", "noscript", "template")
        text = node.text if event == "start" and readable else node.tail if event == "end" else None
        if text and text.strip():
            lines.append(" ".join(text.split()))
        if end is not None and len(lines) - end > SHOWN_DATE_AFTER:  # each line holds a character or more
            break
    if start is None or end is None:  # no headline, or one outside this part of the page
        return []
    found = []
    # At equal distance a line after the headline (a byline) goes before one above it (a teaser).
    sides = ((1, SHOWN_DATE_BEFORE, range(start - 1, -1, -1)), (0, SHOWN_DATE_AFTER, range(end, len(lines))))
    for side, limit, indexes in sides:
        distance = 0
        for i in indexes:
            if distance > limit:
                break
            before = next((lines[j] for j in range(i - 1, -1, -1) if j not in datetimes), "")
            found.append((distance, side, before[-40:], lines[i]))
            distance += len(lines[i])
    return [(distance, context, line) for distance, _, context, line in sorted(found)]


def _walk(root: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    """("start", node) and ("end", node) in document order, comments included: etree.iterwalk skips
    comments and so loses the text after them, and script-rendered pages put empty comments between
    a label and its value ("Updated on <!-- -->May 2, 2025")."""
    stack = [(root, "start")]
    while stack:
        node, event = stack.pop()
        yield event, node
        if event == "start":
            stack.append((node, "end"))
            stack.extend((child, "start") for child in reversed(node))


def _date_value(text: str) -> str | None:
    """YYYY-MM-DD from a date as pages show it (see _SHOWN_DATE)."""
    return (iso_date(text) if text[0].isdigit() else None) or _month_name_date(text)


def _month_name_date(text: str) -> str | None:
    """YYYY-MM-DD from "March 14, 2021", "14th March 2021", "Sept. 4 2025" and the like."""
    text = re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", text.replace(".", " ").replace(",", " "))
    text = " ".join(re.sub(r"\bsept\b", "sep", text, flags=re.I).split())
    for fmt in ("%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y", "%d of %B %Y"):
        try:
            return datetime.strptime(text, fmt).strftime("%Y-%m-%d")
        except ValueError:
            continue
    return None


def _without_other_articles(tree: etree._Element, title: str | None = None) -> etree._Element:
    """A copy of the page without navigation, asides, footers, or teaser cards of other articles.

    What holds the headline is this article's own, and so are the asides and footers of the
    <article> element that holds it (HTML puts an article's byline and date in its <footer>).
    """
    tree = deepcopy(tree)
    headline = _headline_element(tree, title)
    own = set(headline.iterancestors()) if headline is not None else set()
    own_article = next((e for e in own if e.tag == "article"), None)
    for element in tree.xpath("//body//nav|//body//aside|//body//footer|//body//*[@class]"):
        in_own_article = own_article is not None and any(a is own_article for a in element.iterancestors())
        if element in own or (element.tag in ("aside", "footer") and in_own_article):
            continue
        if element.tag in ("nav", "aside", "footer") or _NOT_THIS_ARTICLE.search(element.get("class", "")):
            if element.getparent() is not None:
                element.getparent().remove(element)
    return tree

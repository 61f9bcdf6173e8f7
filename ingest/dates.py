"""Publication dates of web pages: the date shown by the headline, htmldate's search of the page,
JSON-LD and meta tags, with modification dates and other articles' dates (teasers, related cards)
kept out."""

from __future__ import annotations

import logging
import re
from copy import deepcopy
from datetime import datetime

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

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"

_SHOWN_DATE = re.compile(
    rf"\b(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4})(?!\d)",
    re.I,
)

_DATE_LABEL = re.compile(r"\b(published|posted|updated|modified|reviewed|revised)\b\W*(?:on\b)?\W*$", re.I)

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")

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
        day, month = (first, second) if first > 12 else (second, first) if second > 12 else (0, 0)
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
    """The publication date: the dateline shown under the headline, else htmldate's search of the
    page, else JSON-LD, article meta tags, then <time>.

    A date shown by the headline is the one readers see; it counts when labelled "Published" or
    "Posted", or when unlabelled and not a modification date the page declares ("Updated" dates are
    skipped). htmldate reads the JSON-LD and meta sources in more formats, and with `original_date`
    it takes the first publication over later modifications; when it still returns a declared
    modification date, the JSON-LD publication date wins. All but the metadata are read from the
    page without navigation, asides, footers and teaser cards, whose dates belong to other articles.
    """
    published = next((d for value in published_ld if (d := iso_date(value))), None)
    if tree is None:
        return published or iso_date(published_meta)
    modified = modification_dates(tree, modified_ld)
    labelled, unlabelled = shown_dates(tree, title)
    if labelled or (unlabelled and unlabelled not in modified):
        return labelled or unlabelled
    tree = _without_other_articles(tree, title)
    found = _htmldate(tree, url)
    if found in modified and published and published not in modified:
        return published
    time_value = next(iter(tree.xpath("//time/@datetime")), None)
    return found or published or iso_date(published_meta) or iso_date(str(time_value) if time_value else None)


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


def shown_dates(tree: etree._Element, title: str | None) -> tuple[str | None, str | None]:
    """The date shown nearest the headline with a "Published"/"Posted" label, and the nearest shown
    without a label; dates labelled "Updated", "Modified" or "Reviewed" are neither.

    A shown date stands on a short line of its own (a byline, a dateline, a <time>) within a few
    hundred characters of the headline; dates inside sentences belong to the story, not to the page.
    """
    labelled = unlabelled = None
    lines = _lines_near(tree, _headline_element(tree, title))
    for _, context, line in lines:
        for match in _SHOWN_DATE.finditer(line if len(line) <= SHOWN_DATE_LINE_CHARS else ""):
            text = match.group(0)
            date = (iso_date(text) if text[0].isdigit() else None) or _month_name_date(text)
            label = _DATE_LABEL.search((context + " " + line[: match.start()])[-40:])
            if not date or (label and label.group(1).lower() not in ("published", "posted")):
                continue
            if label:
                labelled = labelled or date
            else:
                unlabelled = unlabelled or date
    return labelled, unlabelled


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
    (distance, the end of the line before, line); a <time> adds its datetime as a line of its own."""
    lines: list[str] = []
    start = end = None
    for event, node in etree.iterwalk(tree, events=("start", "end")):
        if node is element and event == "start":
            start = len(lines)
        elif node is element:
            end = len(lines)
        if event == "start" and node.tag == "time" and node.get("datetime"):
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
            found.append((distance, side, lines[i - 1][-40:] if i else "", lines[i]))
            distance += len(lines[i])
    return [(distance, context, line) for distance, _, context, line in sorted(found)]


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

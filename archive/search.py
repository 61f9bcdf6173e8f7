"""Queries over the index: parse, filter, facet, sort, page and highlight."""

from __future__ import annotations

import calendar
import re
import time
from datetime import datetime
from html import escape

from whoosh import highlight, sorting
from whoosh.qparser import FieldAliasPlugin, MultifieldParser
from whoosh.query import And, DateRange, Every, Query, Term
from whoosh.searching import Searcher

from .errors import InvalidQuery
from .models import Hit, SearchQuery, SearchResult

SNIPPET_CHARS = 240  # the lead shown when no sentence holds a match
SENTENCE_CHARS = 300
SNIPPET_SENTENCES = 2
FACET_FIELDS = {"topic": "topics", "source": "source", "year": "year"}
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


class MarkFormatter(highlight.HtmlFormatter):
    """Escapes all text and wraps matched terms in a bare <mark>, the only markup a snippet may hold."""

    def __init__(self) -> None:
        super().__init__(tagname="mark", between=" … ")

    def format_token(self, text, token, replace=False):
        return f"<mark>{self._text(highlight.get_text(text, token, replace))}</mark>"


def check_balanced(text: str) -> None:
    """Refuse queries whose quotes or brackets do not close: the parser would guess, silently."""
    if text.count('"') % 2:
        raise InvalidQuery('The query has an opening quote " without its closing quote.')
    stack: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    outside_quotes = text.split('"')[::2]
    for char in "".join(outside_quotes):
        if char in "([{":
            stack.append(char)
        elif char in pairs:
            if not stack or stack.pop() != pairs[char]:
                raise InvalidQuery(f"The query has a closing {char!r} without a matching opening bracket.")
    if stack:
        raise InvalidQuery(f"The query has an opening {stack[-1]!r} without its closing bracket.")


def parse_date(text: str, end: bool) -> datetime:
    """YYYY, YYYY-MM or YYYY-MM-DD as the first (or, with `end`, the last) moment of that period."""
    match = _DATE_RE.match(text.strip())
    try:
        if not match:
            raise ValueError
        year, month, day = int(match[1]), int(match[2] or 0), int(match[3] or 0)
        if not month:
            month, day = (12, 31) if end else (1, 1)
        elif not day:
            day = calendar.monthrange(year, month)[1] if end else 1
        moment = datetime(year, month, day)
    except ValueError:
        raise InvalidQuery(f"{text!r} is not a date; use YYYY, YYYY-MM or YYYY-MM-DD.") from None
    return moment.replace(hour=23, minute=59, second=59) if end else moment


class SearchEngine:
    """Turns a SearchQuery into a SearchResult against one searcher."""

    def __init__(self, schema) -> None:
        self.schema = schema
        self.parser = MultifieldParser(["title", "body"], schema)
        self.parser.add_plugin(FieldAliasPlugin({"topics": ["topic"]}))
        self._title_highlighter = highlight.Highlighter(
            fragmenter=highlight.WholeFragmenter(), formatter=MarkFormatter()
        )

    def parse(self, text: str) -> Query:
        text = text.strip()
        if not text:
            return Every()
        check_balanced(text)
        try:
            return self.parser.parse(text)
        except Exception as exc:  # whoosh raises assorted errors for odd input
            raise InvalidQuery(f"The query could not be read ({exc}).") from None

    def build_filter(self, request: SearchQuery) -> Query | None:
        parts: list[Query] = [Term("topics", t) for t in request.topics]
        if request.source:
            parts.append(Term("source", request.source))
        if request.date_from or request.date_to:
            start = parse_date(request.date_from, end=False) if request.date_from else None
            end = parse_date(request.date_to, end=True) if request.date_to else None
            if start and end and start > end:
                raise InvalidQuery("The start date is after the end date.")
            # A date range as a filter, never inside the scored query: counts stay exact.
            parts.append(DateRange("date", start, end))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(parts)

    def run(self, searcher: Searcher, request: SearchQuery) -> SearchResult:
        started = time.perf_counter()
        if request.page < 1 or request.per_page < 1:
            raise InvalidQuery("Page and page size must be positive whole numbers.")
        query = self.parse(request.q)
        flt = self.build_filter(request)
        sort = request.sort
        if sort == "relevance" and isinstance(query, Every):
            sort = "newest"  # browsing without words: newest first is the useful order
        facets = {
            name: sorting.FieldFacet(field, allow_overlap=(field == "topics"), maptype=sorting.Count)
            for name, field in FACET_FIELDS.items()
        }
        kwargs = {}
        if sort != "relevance":
            by_date = sorting.MultiFacet(
                [sorting.FieldFacet("dated", reverse=True), sorting.FieldFacet("date", reverse=sort == "newest")]
            )
            kwargs = {"sortedby": by_date}
        results = searcher.search(query, limit=request.page * request.per_page, filter=flt, groupedby=facets, **kwargs)
        # Whole sentences read better than windows cut mid-phrase, and do not repeat each other.
        results.fragmenter = highlight.SentenceFragmenter(maxchars=SENTENCE_CHARS)
        results.formatter = MarkFormatter()
        start = (request.page - 1) * request.per_page
        hits = [self._hit(hit) for hit in results[start : start + request.per_page]]
        facet_counts = {name: _sorted_counts(results.groups(name)) for name in FACET_FIELDS}
        return SearchResult(
            query=request.q,
            total=len(results),
            page=request.page,
            per_page=request.per_page,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
            hits=hits,
            facets=facet_counts,
            suggestion=None,
        )

    def _hit(self, hit) -> Hit:
        fields = hit.fields()
        body = fields.get("body", "")
        snippet = " ".join(hit.highlights("body", top=SNIPPET_SENTENCES).split())
        if not snippet:
            snippet = escape(_lead(body), quote=False)
        title = fields.get("title", "")
        title_html = self._title_highlighter.highlight_hit(hit, "title") or escape(title, quote=False)
        date = fields.get("date")
        return Hit(
            id=fields["id"],
            title=title,
            url=fields.get("url") or None,
            source=fields.get("source"),
            date=date.strftime("%Y-%m-%d") if date else None,
            topics=[t for t in fields.get("topics", "").split(",") if t],
            # Sorted by date, whoosh puts the sort key where the score goes: there is no relevance then.
            score=round(float(hit.score), 4) if isinstance(hit.score, (int, float)) else 0.0,
            snippet=snippet,
            title_html=title_html,
        )


def _lead(body: str) -> str:
    """The opening of the body, cut at a word boundary, for hits without a highlighted fragment."""
    if len(body) <= SNIPPET_CHARS:
        return body
    cut = body[:SNIPPET_CHARS].rsplit(" ", 1)[0]
    return cut + " …"


def _sorted_counts(groups: dict) -> dict[str, int]:
    counts = {str(k): int(v) for k, v in groups.items() if k not in (None, "")}
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

"""Queries over the index: parse, filter, facet, sort, page and highlight."""

from __future__ import annotations

import calendar
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from html import escape

from whoosh import highlight, sorting
from whoosh.qparser import (
    FieldAliasPlugin,
    FuzzyTermPlugin,
    GtLtPlugin,
    MultifieldParser,
    PlusMinusPlugin,
    QueryParser,
)
from whoosh.qparser.dateparse import DateParserPlugin, DateRangeNode
from whoosh.query import And, DateRange, Every, FuzzyTerm, NumericRange, Query, Term
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from .errors import InvalidQuery
from .index import NO_TOPIC, SPELLING_ANALYZER, build_schema
from .models import Hit, SearchQuery, SearchResult, Similar, Timeline, TimelineBucket

SNIPPET_CHARS = 240  # the lead shown when no sentence holds a match
SENTENCE_CHARS = 300
SNIPPET_SENTENCES = 2
FACET_FIELDS = {"topic": "topics", "source": "source", "year": "year", "language": "language"}
SPELLED_FIELDS = ("title", "body")  # the fields whose words did-you-mean checks
FEW_RESULTS = 3  # below this many hits, a corrected query is tried for did-you-mean
DATE_HELP = (
    "{text} is not a date the search understands; use date:2021, date:2021-03, date:[2019 to 2021] or date:>2020."
)
MAX_MONTH_BARS = 48  # a timeline spanning more months than this is drawn by year
SIMILAR_CANDIDATES = 20  # more-like-this hits examined for an article page
SIMILAR_SHOWN = 8
KEY_TERMS = 12  # an article's most telling terms (Whoosh key terms, Bo1 model)
SAME_STORY_DAYS = 7  # coverage of one event appears within about a week
SAME_STORY_OVERLAP = 0.35  # share of words (weighted by rarity) two reports of one event have in common
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


class WordFuzzyTerm(FuzzyTerm):
    """A fuzzy term that finds the stems of words near the word as typed, and stems near its stem.

    With spelling on, Whoosh matched fuzzy terms against the field's unstemmed word list using the
    query's stem, then looked those words up among stems, so `groming~` found nothing.
    """

    word: str = ""  # the word as typed, set by the parser node

    def _btexts(self, ixreader):
        near_stems = IndexReader.terms_within(ixreader, self.fieldname, self.text, self.maxdist, self.prefixlength)
        found = set(near_stems)
        field = ixreader.schema[self.fieldname]
        if self.word and field.separate_spelling():
            for word in ixreader.terms_within(self.fieldname, self.word, self.maxdist, prefix=self.prefixlength):
                found.update(token.text for token in field.analyzer(word))
        return sorted(t for t in found if (self.fieldname, t) in ixreader)


class WordFuzzyTermPlugin(FuzzyTermPlugin):
    class FuzzyTermNode(FuzzyTermPlugin.FuzzyTermNode):
        qclass = WordFuzzyTerm

        def query(self, parser):
            q = super().query(parser)
            if isinstance(q, WordFuzzyTerm):
                q.word = self.text.lower()
            return q


class StrictDateParserPlugin(DateParserPlugin):
    """Dates in queries, with `date:>2020` meaning after 2020 and `date:<2019-06` before June 2019.

    Whoosh's plugin reads `>` as `>=` and `<` as `<=` for dates; these two cases keep their strictness.
    """

    def range_to_dt(self, node):
        strict_start = node.start and node.startexcl and not node.end
        strict_end = node.end and node.endexcl and not node.start
        if not (strict_start or strict_end):
            return super().range_to_dt(node)
        bound = self._bound_from(node.start if strict_start else node.end)
        if bound is None:
            return self.errorize(node.start if strict_start else node.end, node)
        if strict_start:
            start, end = _ceil(bound) + timedelta(microseconds=1), None
        else:
            start, end = None, _floor(bound) - timedelta(microseconds=1)
        ranged = DateRangeNode(node.fieldname, start, end, boost=node.boost)
        ranged.startchar, ranged.endchar = node.startchar, node.endchar
        return ranged


def _ceil(moment) -> datetime:
    return moment.ceil() if hasattr(moment, "ceil") else moment


def _floor(moment) -> datetime:
    return moment.floor() if hasattr(moment, "floor") else moment


class SearchEngine:
    """Turns a SearchQuery into a SearchResult against one searcher."""

    def __init__(self, schema) -> None:
        self.schema = schema
        self._date_errors = threading.local()  # the parser is shared by threads; its date errors are not
        self.parser = self._parser(MultifieldParser(["title", "body"], schema))
        # Did-you-mean reads the query again without stemming, to compare the words people typed.
        self._spelling_parser = self._parser(QueryParser("body", build_schema(SPELLING_ANALYZER)))
        self._title_highlighter = highlight.Highlighter(
            fragmenter=highlight.WholeFragmenter(), formatter=MarkFormatter()
        )

    def parse(self, text: str) -> Query:
        text = text.strip()
        if not text:
            return Every()
        check_balanced(text)
        self._date_errors.found = []
        try:
            query = self.parser.parse(text)
        except Exception as exc:  # whoosh raises assorted errors for odd input
            if "date:" in text.lower():
                raise InvalidQuery(DATE_HELP.format(text="a date in the query")) from None
            raise InvalidQuery(f"The query could not be read ({exc}).") from None
        if self._date_errors.found:
            raise InvalidQuery(DATE_HELP.format(text=f"“{self._date_errors.found[0]}”"))
        return query

    def _parser(self, parser: QueryParser) -> QueryParser:
        parser.add_plugin(FieldAliasPlugin({"topics": ["topic"], "language": ["lang"]}))
        # -word leaves out, +word requires; only at the start of a word, so that date:2021-03 stays a date
        parser.add_plugin(PlusMinusPlugin(plusexpr=r"(?<![^\s(])\+", minusexpr=r"(?<![^\s(])-"))
        parser.add_plugin(GtLtPlugin())  # date:>2020
        parser.add_plugin(WordFuzzyTermPlugin())  # grooming~ and grooming~2
        parser.add_plugin(StrictDateParserPlugin(callback=self._note_date_error))  # date:2021-03, date:[2019 to 2021]
        return parser

    def _note_date_error(self, text) -> None:
        self._date_errors.found.append(str(text))

    def build_filter(self, request: SearchQuery, extra: list[Query] | None = None) -> Query | None:
        parts: list[Query] = [Term("topics", t) for t in request.topics]
        if request.source:
            parts.append(Term("source", request.source))
        if request.language:
            parts.append(Term("language", request.language))
        if request.date_from or request.date_to:
            start = parse_date(request.date_from, end=False) if request.date_from else None
            end = parse_date(request.date_to, end=True) if request.date_to else None
            if start and end and start > end:
                raise InvalidQuery("The start date is after the end date.")
            # A date range as a filter, never inside the scored query: counts stay exact.
            parts.append(DateRange("date", start, end))
        parts += extra or []
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(parts)

    def prepare(self, request: SearchQuery) -> tuple[Query, Query | None, dict]:
        """The scored query, the filter and the sort arguments for a request."""
        query, date_ranges = split_date_ranges(self.parse(request.q))
        flt = self.build_filter(request, date_ranges)
        sort = request.sort
        if sort == "relevance" and isinstance(query, Every):
            sort = "newest"  # browsing without words: newest first is the useful order
        kwargs = {}
        if sort != "relevance":
            by_date = sorting.MultiFacet(
                [sorting.FieldFacet("dated", reverse=True), sorting.FieldFacet("date", reverse=sort == "newest")]
            )
            kwargs = {"sortedby": by_date}
        return query, flt, kwargs

    def run(self, searcher: Searcher, request: SearchQuery) -> SearchResult:
        started = time.perf_counter()
        if request.page < 1 or request.per_page < 1:
            raise InvalidQuery("Page and page size must be positive whole numbers.")
        query, flt, kwargs = self.prepare(request)
        facets = {
            name: sorting.FieldFacet(field, allow_overlap=(field == "topics"), maptype=sorting.Count)
            for name, field in FACET_FIELDS.items()
        }
        facets["timeline"] = sorting.FieldFacet("month_topic", maptype=sorting.Count)
        results = searcher.search(query, limit=request.page * request.per_page, filter=flt, groupedby=facets, **kwargs)
        self._set_highlighting(results)
        start = (request.page - 1) * request.per_page
        hits = [self._hit(hit) for hit in results[start : start + request.per_page]]
        facet_counts = {name: _sorted_counts(results.groups(name)) for name in FACET_FIELDS}
        total = len(results)
        return SearchResult(
            query=request.q,
            total=total,
            page=request.page,
            per_page=request.per_page,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
            hits=hits,
            facets=facet_counts,
            suggestion=self.suggest(searcher, request.q, query, flt, total),
            timeline=build_timeline(results.groups("timeline"), total),
        )

    def iter_hits(self, searcher: Searcher, request: SearchQuery) -> Iterator[Hit]:
        """Every match of a request, in its order, highlighted: for exports, with no cap on count."""
        query, flt, kwargs = self.prepare(request)
        results = searcher.search(query, limit=None, filter=flt, **kwargs)
        self._set_highlighting(results)
        for hit in results:
            yield self._hit(hit)

    def suggest(self, searcher: Searcher, text: str, query: Query, flt: Query | None, total: int) -> str | None:
        """A corrected query string when the query finds little and the correction finds more."""
        if total >= FEW_RESULTS or not text.strip():
            return None
        words = self._spelling_parser.parse(text)
        reader = searcher.reader()
        unknown = [
            (t.fieldname, t.text)
            for t in words.all_tokens()
            if t.fieldname in SPELLED_FIELDS
            and (self.schema[t.fieldname].spelling_fieldname(t.fieldname), t.text) not in reader
        ]
        if not unknown:
            return None
        corrected = searcher.correct_query(words, text, terms=unknown, prefix=1)
        if corrected.string.strip() == text.strip():
            return None
        try:
            better, _ = split_date_ranges(self.parse(corrected.string))
        except InvalidQuery:
            return None
        found = searcher.search(better, limit=None, filter=flt, scored=False)
        return corrected.string if len(found) > total else None

    def similar(self, searcher: Searcher, article_id: str) -> Similar:
        """Articles sharing this one's key terms; those from another source within days of it are the same story."""
        docnum = searcher.document_number(id=article_id)
        if docnum is None:
            return Similar(same_story=[], more_like_this=[])
        fields = searcher.stored_fields(docnum)
        text = f"{fields.get('title', '')}\n{fields.get('body', '')}"
        candidates = searcher.more_like(docnum, "body", text=text, top=SIMILAR_CANDIDATES, numterms=KEY_TERMS)
        own_terms = self._terms(text)
        same_story, more = [], []
        for hit in candidates:
            found = self._hit(hit, snippet=False)
            other = hit.fields()
            other_terms = self._terms(f"{other.get('title', '')}\n{other.get('body', '')}")
            overlap = _weighted_jaccard(own_terms, other_terms, lambda term: searcher.idf("body", term))
            close_in_time = _days_apart(fields.get("date"), other.get("date")) <= SAME_STORY_DAYS
            other_source = other.get("source") != fields.get("source") or not fields.get("source")
            if overlap >= SAME_STORY_OVERLAP and close_in_time and other_source:
                same_story.append(found)
            elif len(more) < SIMILAR_SHOWN:
                more.append(found)
        return Similar(same_story=same_story[:SIMILAR_SHOWN], more_like_this=more)

    def _terms(self, text: str) -> set[str]:
        return {token.text for token in self.schema["body"].analyzer(text)}

    @staticmethod
    def _set_highlighting(results) -> None:
        # Whole sentences read better than windows cut mid-phrase, and do not repeat each other.
        results.fragmenter = highlight.SentenceFragmenter(maxchars=SENTENCE_CHARS)
        results.formatter = MarkFormatter()

    def _hit(self, hit, snippet: bool = True) -> Hit:
        fields = hit.fields()
        body = fields.get("body", "")
        text = " ".join(hit.highlights("body", top=SNIPPET_SENTENCES).split()) if snippet else ""
        if snippet and not text:
            text = escape(_lead(body), quote=False)
        title = fields.get("title", "")
        title_html = (self._title_highlighter.highlight_hit(hit, "title") if snippet else "") or escape(
            title, quote=False
        )
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
            snippet=text,
            title_html=title_html,
            author=fields.get("author"),
        )


def _weighted_jaccard(a: set[str], b: set[str], weight: Callable[[str], float]) -> float:
    """Shared terms over all terms, each counted by its weight (rare words count most)."""
    union = sum(weight(t) for t in a | b)
    return sum(weight(t) for t in a & b) / union if union else 0.0


def _days_apart(a: datetime | None, b: datetime | None) -> float:
    """Days between two dates; infinitely far when either is unknown."""
    if a is None or b is None:
        return float("inf")
    return abs((a - b).days)


def split_date_ranges(query: Query) -> tuple[Query, list[Query]]:
    """Take date ranges that every match must satisfy out of the scored query, to use as filters.

    A range inside the scored query is slow and miscounts; as a filter it is exact. Ranges under
    OR or NOT stay where they are, since they do not restrict every match.
    """
    if _is_date_range(query):
        return Every(), [query]
    if isinstance(query, And):
        ranges = [q for q in query.subqueries if _is_date_range(q)]
        if ranges:
            rest = [q for q in query.subqueries if not _is_date_range(q)]
            remaining = Every() if not rest else rest[0] if len(rest) == 1 else And(rest)
            return remaining, ranges
    return query, []


def _is_date_range(query: Query) -> bool:
    return isinstance(query, NumericRange) and query.fieldname == "date"


def build_timeline(groups: dict, total: int) -> Timeline:
    """Buckets from month_topic counts: by month, or by year when the matches span many months."""
    by_month: dict[str, dict[str, int]] = {}
    for key, count in groups.items():
        if not key:
            continue
        month, _, topic = str(key).partition(":")
        by_month.setdefault(month, {})[topic or NO_TOPIC] = int(count)
    dated = sum(sum(c.values()) for c in by_month.values())
    if not by_month:
        return Timeline(unit="month", buckets=[], undated=total)
    first, last = min(by_month), max(by_month)
    months = _month_range(first, last)
    if len(months) <= MAX_MONTH_BARS:
        periods = {m: by_month.get(m, {}) for m in months}
        unit = "month"
    else:
        periods = {str(y): {} for y in range(int(first[:4]), int(last[:4]) + 1)}
        for month, counts in by_month.items():
            year = periods[month[:4]]
            for topic, count in counts.items():
                year[topic] = year.get(topic, 0) + count
        unit = "year"
    buckets = [TimelineBucket(p, sum(c.values()), dict(sorted(c.items()))) for p, c in periods.items()]
    return Timeline(unit=unit, buckets=buckets, undated=max(0, total - dated))


def _month_range(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    end = (int(last[:4]), int(last[5:7]))
    months = []
    while (year, month) <= end:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _lead(body: str) -> str:
    """The opening of the body, cut at a word boundary, for hits without a highlighted fragment."""
    if len(body) <= SNIPPET_CHARS:
        return body
    cut = body[:SNIPPET_CHARS].rsplit(" ", 1)[0]
    return cut + " …"


def _sorted_counts(groups: dict) -> dict[str, int]:
    counts = {str(k): int(v) for k, v in groups.items() if k not in (None, "")}
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

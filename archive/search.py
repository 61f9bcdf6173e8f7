"""Queries over the index: parse, filter, facet, sort, page and highlight."""

from __future__ import annotations

import calendar
import functools
import heapq
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import replace
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
from whoosh.query import And, Every, FuzzyTerm, NumericRange, Phrase, Query, Term
from whoosh.searching import Results, Searcher

from . import ranking
from .analysis import SPELLING_ANALYZER, WORDS_FIELD
from .columns import SearcherCache, docnums, intersect
from .errors import InvalidQuery
from .index import NO_TOPIC, build_schema
from .models import OFF_TOPIC, Hit, SearchQuery, SearchResult, Similar, Timeline, TimelineBucket
from .segments import SegmentArrays

SNIPPET_CHARS = 240  # the lead shown when no sentence holds a match
SENTENCE_CHARS = 300
SNIPPET_SENTENCES = 2
SNIPPET_CANDIDATES = 3  # sentences holding most query terms, analysed for the snippet's best two
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
FACET_FIELDS = {"topic": "topics", "source": "source", "year": "year", "language": "language"}
KEPT_SEARCHER_CACHES = 2  # the current searcher's, and the one before while requests finish with it
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
    """A fuzzy term that matches the stems of words near the word as typed, and stems near its stem.

    Whoosh compares the query's stem with the field's stems, so `groming~` (stem "grome") missed
    "grooming" (stem "groom"); the index's list of words as written finds it.
    """

    word: str = ""  # the word as typed, set by the parser node

    def _btexts(self, ixreader):
        found = set(ixreader.terms_within(self.fieldname, self.text, self.maxdist, prefix=self.prefixlength))
        if self.word and ixreader.schema[self.fieldname].analyzer is not None and WORDS_FIELD in ixreader.schema:
            analyzer = ixreader.schema[self.fieldname].analyzer
            for word in ixreader.terms_within(WORDS_FIELD, self.word, self.maxdist, prefix=self.prefixlength):
                found.update(token.text for token in analyzer(word))
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
        self._caches: OrderedDict[int, SearcherCache] = OrderedDict()
        self._segments = SegmentArrays()  # what searchers read per segment, kept for the next ones
        self._caches_lock = threading.Lock()
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

    def prepare(self, request: SearchQuery) -> tuple[Query, list[Query], str]:
        """The scored query, the date ranges every match must satisfy, and the effective sort."""
        query, date_ranges = split_date_ranges(self.parse(request.q))
        sort = request.sort
        if sort == "relevance" and isinstance(query, Every):
            sort = "newest"  # browsing without words: newest first is the useful order
        return query, date_ranges, sort

    def filter_sets(self, cache: SearcherCache, request: SearchQuery, date_ranges: list[Query]) -> list:
        """The cached document mask of each filter of a request; a match must be in all of them."""
        sets = [cache.term("topics", t) for t in request.topics]
        if request.source:
            sets.append(cache.term("source", request.source))
        if request.language:
            sets.append(cache.term("language", request.language))
        if request.date_from or request.date_to:
            start = parse_date(request.date_from, end=False) if request.date_from else None
            end = parse_date(request.date_to, end=True) if request.date_to else None
            if start and end and start > end:
                raise InvalidQuery("The start date is after the end date.")
            sets.append(cache.date_range(start, end))
        sets += [cache.date_range(r.startdate, r.enddate) for r in date_ranges]
        return sets

    def run(self, searcher: Searcher, request: SearchQuery) -> SearchResult:
        started = time.perf_counter()
        if request.page < 1 or request.per_page < 1:
            raise InvalidQuery("Page and page size must be positive whole numbers.")
        cache = self._cache_for(searcher)
        key = _request_key(request)
        kept = cache.result(key)
        if kept is not None:
            return replace(kept, took_ms=_since(started))
        query, date_ranges, sort = self.prepare(request)
        sets = self.filter_sets(cache, request, date_ranges)
        matched = intersect([cache.matching(query), *sets])
        total = int(matched.sum())
        facets = {
            name: _sorted_counts(cache.count(field, matched, separator="," if field == "topics" else None))
            for name, field in FACET_FIELDS.items()
        }
        result = SearchResult(
            query=request.q,
            total=total,
            page=request.page,
            per_page=request.per_page,
            took_ms=0.0,
            hits=self._page_hits(searcher, cache, query, matched, request, sort),
            facets=facets,
            suggestion=self.suggest(searcher, cache, request.q, sets, total),
            timeline=build_timeline(cache.count("month_topic", matched), total),
        )
        result.took_ms = _since(started)
        cache.keep_result(key, result)
        return result

    def _page_hits(self, searcher, cache, query, matched, request: SearchQuery, sort: str) -> list[Hit]:
        """The hits of the requested page: ranked by BM25F (over whole posting lists where the query
        allows, else by Whoosh), or ordered by the cached date column."""
        start, stop = (request.page - 1) * request.per_page, request.page * request.per_page
        if sort == "relevance":
            score = ranking.scores(cache, query)
            if score is None:  # another weighting than BM25F: Whoosh ranks
                results = searcher.search(query, limit=stop, filter=set(docnums(matched)))
            else:
                results = Results(searcher, query, ranking.by_score(matched, score, stop))
            self._set_highlighting(results)
            return [self._hit(hit) for hit in results[start:stop]]
        dated, dates = cache.dates()
        page = ranking.by_date(matched, dated, dates, stop, newest=sort == "newest")[start:stop]
        if isinstance(query, Every):  # nothing to highlight: read the page's stored fields
            return [_make_hit(searcher.stored_fields(n), 0.0) for n in page]
        results = Results(searcher, query, [(0.0, n) for n in page])
        self._set_highlighting(results)
        return [self._hit(hit, score=False) for hit in results]

    def iter_hits(self, searcher: Searcher, request: SearchQuery) -> Iterator[Hit]:
        """Every match of a request, in its order, highlighted: for exports, with no cap on count."""
        query, date_ranges, sort = self.prepare(request)
        cache = self._cache_for(searcher)
        sets = self.filter_sets(cache, request, date_ranges)
        kwargs = {}
        if sort != "relevance":
            by_date = sorting.MultiFacet(
                [sorting.FieldFacet("dated", reverse=True), sorting.FieldFacet("date", reverse=sort == "newest")]
            )
            kwargs = {"sortedby": by_date}
        allowed = set(docnums(intersect(sets))) if sets else None
        results = searcher.search(query, limit=None, filter=allowed, **kwargs)
        self._set_highlighting(results)
        for hit in results:
            yield self._hit(hit, score=sort == "relevance")

    def suggest(self, searcher: Searcher, cache: SearcherCache, text: str, sets, total: int) -> str | None:
        """A corrected query string when the query finds little and the correction finds more."""
        if total >= FEW_RESULTS or not text.strip():
            return None
        words = self._spelling_parser.parse(text)
        reader = searcher.reader()
        unknown = [
            (field, word)
            for field, word in _spelled_words(words)
            if field in SPELLED_FIELDS and (WORDS_FIELD, word) not in reader
        ]
        if not unknown:
            return None
        corrector = reader.corrector(WORDS_FIELD)
        correctors = {field: corrector for field in SPELLED_FIELDS}
        try:
            corrected = searcher.correct_query(words, text, correctors=correctors, terms=unknown, prefix=1)
        except (TypeError, AttributeError):
            # Whoosh's corrector fails on tokens without character positions (a query with control
            # characters) and on a range over a field that does not exist: both found by fuzzing.
            # No suggestion is better than no answer.
            return None
        if corrected.string.strip() == text.strip():
            return None
        try:
            better, _ = split_date_ranges(self.parse(corrected.string))
        except InvalidQuery:
            return None
        found = intersect([cache.matching(better), *sets])
        return corrected.string if int(found.sum()) > total else None

    def _cache_for(self, searcher: Searcher) -> SearcherCache:
        """The cache of this searcher; caches of older searchers are let go."""
        with self._caches_lock:
            cache = self._caches.get(id(searcher))
            if cache is None or cache.searcher is not searcher:
                cache = SearcherCache(searcher, self._segments)
                self._caches[id(searcher)] = cache
                while len(self._caches) > KEPT_SEARCHER_CACHES:
                    self._caches.popitem(last=False)
            return cache

    def similar(self, searcher: Searcher, article_id: str) -> Similar:
        """Articles sharing this one's key terms; those from another source within days of it are the same story."""
        docnum = searcher.document_number(id=article_id)
        if docnum is None:
            return Similar(same_story=[], more_like_this=[])
        fields = searcher.stored_fields(docnum)
        text = f"{fields.get('title', '')}\n{fields.get('body', '')}"
        candidates = searcher.more_like(docnum, "body", text=text, top=SIMILAR_CANDIDATES, numterms=KEY_TERMS)
        own_terms = self._terms(text)
        rarity = functools.cache(lambda term: searcher.idf("body", term))
        same_story, more = [], []
        for hit in candidates:
            found = self._hit(hit, snippet=False)
            other = hit.fields()
            other_terms = self._terms(f"{other.get('title', '')}\n{other.get('body', '')}")
            overlap = _weighted_jaccard(own_terms, other_terms, rarity)
            close_in_time = _days_apart(fields.get("date"), other.get("date")) <= SAME_STORY_DAYS
            other_source = other.get("source") != fields.get("source") or not fields.get("source")
            if overlap >= SAME_STORY_OVERLAP and close_in_time and other_source:
                same_story.append(found)
            elif len(more) < SIMILAR_SHOWN:
                more.append(found)
        return Similar(same_story=same_story[:SIMILAR_SHOWN], more_like_this=more)

    def _terms(self, text: str) -> set[str]:
        return {token.text for token in self.schema["body"].analyzer(text)}

    def _snippet(self, hit, body: str) -> str:
        """The best matching sentences of a body, highlighted by Whoosh.

        Only the few sentences holding the most query terms' stems as text are analysed, rather than
        the whole body: stems are prefixes of the words they come from, so a sentence without the text
        cannot match. When no sentence passes that test (an irregular stem), the whole body is highlighted.
        """
        terms = _body_terms(hit.results)
        if not terms:
            return ""
        sentences = list(_pieces(body))
        held = [(sum(t in folded for t in terms), -n) for n, folded in enumerate(map(_fold, sentences))]
        best = sorted(-n for found, n in heapq.nlargest(SNIPPET_CANDIDATES, held) if found)
        text = " ".join(sentences[n] for n in best) if best else body
        return highlight.highlight(
            text,
            terms,
            self.schema["body"].analyzer,
            highlight.SentenceFragmenter(maxchars=SENTENCE_CHARS),
            MarkFormatter(),
            top=SNIPPET_SENTENCES,
        )

    @staticmethod
    def _set_highlighting(results) -> None:
        # Whole sentences read better than windows cut mid-phrase, and do not repeat each other.
        results.fragmenter = highlight.SentenceFragmenter(maxchars=SENTENCE_CHARS)
        results.formatter = MarkFormatter()

    def _hit(self, hit, snippet: bool = True, score: bool = True) -> Hit:
        """A Whoosh hit as ours, with its highlighted snippet and title (or the lead when nothing matched)."""
        fields = hit.fields()
        if not snippet:
            return _make_hit(fields, hit.score if score else 0.0, snippet="")

        def highlights() -> tuple[str, str]:
            text = " ".join(self._snippet(hit, fields.get("body", "")).split())
            return text, self._title_highlighter.highlight_hit(hit, "title")

        cache = self._cache_for(hit.searcher)
        text, title_html = cache.snippet((hit.docnum, hit.results.q), highlights)
        return _make_hit(fields, hit.score if score else 0.0, snippet=text or None, title_html=title_html or None)


def _make_hit(fields: dict, score, snippet: str | None = None, title_html: str | None = None) -> Hit:
    """A hit from stored fields; without a snippet the body's lead stands in, escaped."""
    title = fields.get("title", "")
    date = fields.get("date")
    return Hit(
        id=fields["id"],
        title=title,
        url=fields.get("url") or None,
        source=fields.get("source"),
        date=date.strftime("%Y-%m-%d") if date else None,
        topics=[t for t in fields.get("topics", "").split(",") if t and t != OFF_TOPIC],
        off_topic=fields.get("topics") == OFF_TOPIC,
        score=round(float(score), 4) if isinstance(score, (int, float)) else 0.0,
        snippet=escape(_lead(fields.get("body", "")), quote=False) if snippet is None else snippet,
        title_html=title_html or escape(title, quote=False),
        author=fields.get("author"),
    )


def _body_terms(results) -> frozenset[str]:
    """The body terms a result's query matches, wildcards and fuzzy terms expanded; kept on the results."""
    terms = getattr(results, "_body_terms", None)
    if terms is None:
        reader = results.searcher.reader()
        found = (term for leaf in results.q.leaves() for term in leaf.expanded_terms(reader, phrases=True))
        terms = frozenset(_text_of(text) for field, text in found if field == "body")
        results._body_terms = terms
    return terms


def _text_of(term) -> str:
    return term.decode("utf-8") if isinstance(term, bytes) else str(term)


def _pieces(body: str) -> Iterator[str]:
    """The body's sentences, a run-on sentence cut at spaces into pieces of about a snippet's length."""
    for sentence in _SENTENCE_END.split(body):
        while len(sentence) > SENTENCE_CHARS:
            cut = sentence.rfind(" ", 0, SENTENCE_CHARS)
            cut = cut if cut > 0 else SENTENCE_CHARS
            yield sentence[:cut]
            sentence = sentence[cut:].lstrip()
        if sentence:
            yield sentence


def _fold(text: str) -> str:
    """Lower case without accents, as the analyser reads text before stemming."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode("ascii")


def _request_key(request: SearchQuery) -> tuple:
    return (request.q, tuple(request.topics), request.source, request.language, request.date_from,
            request.date_to, request.sort, request.page, request.per_page)  # fmt: skip


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


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


def _spelled_words(query: Query) -> Iterator[tuple[str, str]]:
    """(field, word) of the plain words and phrase words a spelling check looks at. Not
    `Query.all_tokens()`: it fails on a range over a field that does not exist ("childdate:[2019 to
    2021]", found by fuzzing)."""
    for leaf in query.leaves():
        if type(leaf) is Term:
            yield leaf.fieldname, leaf.text
        elif isinstance(leaf, Phrase):
            yield from ((leaf.fieldname, word) for word in leaf.words)

"""The state of a search as URL parameters: read from a request, turned into a query, and changed
one filter at a time into new shareable URLs."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace

from flask import url_for
from werkzeug.datastructures import MultiDict

from archive.models import OFF_TOPIC, SearchQuery

from .formatting import language_name

SORTS: tuple[str, ...] = ("relevance", "newest", "oldest")
MAX_QUERY_LENGTH = 1000
_WHOLE_YEAR = re.compile(r"([0-9]{4})-01-01")
_DIGITS = re.compile(r"[0-9]{1,9}")
_LANGUAGE = re.compile(r"[a-z]{2,3}")


class BadParameter(ValueError):
    """A request parameter cannot be used; the message is one sentence fit to show a user."""


@dataclass(frozen=True)
class Chip:
    """One active filter: what it is, and the URL of the same search without it."""

    label: str
    remove_url: str


@dataclass(frozen=True)
class SearchState:
    """Everything a results page shows, as read from (and written back to) its URL."""

    q: str = ""
    topics: tuple[str, ...] = ()
    source: str | None = None
    language: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int | None = None  # None: the archive's default

    @classmethod
    def from_args(cls, args: MultiDict, *, known_topics: Collection[str], max_per_page: int) -> SearchState:
        """Read and check the parameters; raises BadParameter with a reader-facing sentence."""
        q = args.get("q", "").strip()
        if len(q) > MAX_QUERY_LENGTH:
            raise BadParameter(f"The search is too long: use at most {MAX_QUERY_LENGTH} characters.")
        topics = tuple(dict.fromkeys(t.strip() for t in args.getlist("topic") if t.strip()))
        for topic in topics:
            if topic not in known_topics:
                raise BadParameter(f"There is no topic called “{topic[:60]}”; choose from {', '.join(known_topics)}.")
        sort = args.get("sort", "").strip() or "relevance"
        if sort not in SORTS:
            raise BadParameter("Sort must be one of relevance, newest or oldest.")
        page = _positive_int(args.get("page"), "The page number")
        per_page = _positive_int(args.get("per_page"), "The number of results per page")
        return cls(
            q=q,
            topics=topics,
            source=args.get("source", "").strip() or None,
            language=_language(args.get("lang")),
            date_from=args.get("from", "").strip() or None,
            date_to=args.get("to", "").strip() or None,
            sort=sort,
            page=page or 1,
            per_page=min(per_page, max_per_page) if per_page else None,
        )

    @property
    def has_filters(self) -> bool:
        return bool(self.topics or self.source or self.language or self.date_from or self.date_to)

    @property
    def is_overview(self) -> bool:
        """No query and no filters: the page lists the whole archive, newest first."""
        return not self.q and not self.has_filters

    @property
    def year(self) -> str | None:
        """The year when the date range is exactly one calendar year, as a year facet sets it."""
        match = _WHOLE_YEAR.fullmatch(self.date_from or "")
        if match and self.date_to == f"{match.group(1)}-12-31":
            return match.group(1)
        return None

    def to_query(self, default_per_page: int) -> SearchQuery:
        return SearchQuery(
            q=self.q,
            topics=list(self.topics),
            source=self.source,
            language=self.language,
            date_from=self.date_from,
            date_to=self.date_to,
            sort=self.sort,  # type: ignore[arg-type]  # checked against SORTS when read
            page=self.page,
            per_page=self.per_page or default_per_page,
        )

    def params(self) -> MultiDict:
        """URL parameters for this state, defaults left out so that URLs stay short."""
        pairs: list[tuple[str, str]] = []
        if self.q:
            pairs.append(("q", self.q))
        pairs += [("topic", t) for t in self.topics]
        named = (("source", self.source), ("lang", self.language), ("from", self.date_from), ("to", self.date_to))
        for name, value in named:
            if value:
                pairs.append((name, value))
        if self.sort != "relevance":
            pairs.append(("sort", self.sort))
        if self.page != 1:
            pairs.append(("page", str(self.page)))
        if self.per_page:
            pairs.append(("per_page", str(self.per_page)))
        return MultiDict(pairs)

    def url(self, **changes) -> str:
        """The results URL of this state with `changes`; any change but a page goes to page 1."""
        changes.setdefault("page", 1)
        return url_for("search.results", **_flatten(replace(self, **changes).params()))

    def with_topic(self, topic: str) -> str:
        return self.url(topics=(*self.topics, topic))

    def without_topic(self, topic: str) -> str:
        return self.url(topics=tuple(t for t in self.topics if t != topic))

    def with_year(self, year: str) -> str:
        return self.url(date_from=f"{year}-01-01", date_to=f"{year}-12-31")

    def export_url(self, endpoint: str) -> str:
        """The URL of another view of the same search (export, feed, JSON), from its first page."""
        return url_for(endpoint, **_flatten(replace(self, page=1).params()))

    def page_url(self, page: int) -> str:
        return self.url(page=page)

    def chips(self, topic_label: Callable[[str], str]) -> list[Chip]:
        """The active filters, each with the URL that removes it."""
        chips = [Chip(f"Topic: {topic_label(t)}", self.without_topic(t)) for t in self.topics]
        if self.source:
            chips.append(Chip(f"Source: {self.source}", self.url(source=None)))
        if self.language:
            chips.append(Chip(f"Language: {language_name(self.language)}", self.url(language=None)))
        if self.year:
            chips.append(Chip(f"Year: {self.year}", self.url(date_from=None, date_to=None)))
        else:
            if self.date_from:
                chips.append(Chip(f"From: {self.date_from}", self.url(date_from=None)))
            if self.date_to:
                chips.append(Chip(f"To: {self.date_to}", self.url(date_to=None)))
        return chips


def _language(raw: str | None) -> str | None:
    text = (raw or "").strip().lower()
    if not text:
        return None
    if not _LANGUAGE.fullmatch(text):
        raise BadParameter(f"The language must be a two-letter code such as en or fr, not “{text[:20]}”.")
    return text


def _positive_int(raw: str | None, what: str) -> int | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not _DIGITS.fullmatch(text) or int(text) < 1:
        raise BadParameter(f"{what} must be a whole number of 1 or more, not “{text[:20]}”.")
    return int(text)


def _flatten(params: MultiDict) -> Mapping[str, list[str]]:
    return {key: params.getlist(key) for key in params}


def state_from_request(args, arch) -> SearchState:
    """The search state a request's query string asks for, checked against this archive's topics and limits."""
    topics = [*arch.taxonomy.names, OFF_TOPIC]
    return SearchState.from_args(args, known_topics=topics, max_per_page=arch.config.max_per_page)

"""Records that travel between the ingester, the store, the index and the edges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TOPICS: tuple[str, ...] = ("policy", "platform_moderation", "law_enforcement", "prevention")
OFF_TOPIC = "off_topic"  # the index's topic value, and the search filter, for articles judged unrelated

IngestStatus = Literal["added", "updated", "duplicate", "failed"]
SortOrder = Literal["relevance", "newest", "oldest"]


@dataclass
class Evidence:
    """One taxonomy term found in an article, with how often it occurs."""

    term: str
    count: int


@dataclass
class TopicScore:
    """A machine's verdict on one topic: score in [0, 1], whether it passed the threshold, and why."""

    topic: str
    score: float
    assigned: bool
    evidence: list[Evidence] = field(default_factory=list)
    sentence: str = ""


@dataclass
class Correction:
    """A person's decision to add or remove a topic; it always wins over the machine."""

    topic: str
    action: Literal["add", "remove"]
    user: str
    created_at: str


@dataclass
class Article:
    """A clean article: metadata and body text, plus its topic scores once tagged."""

    title: str
    body: str
    url: str | None = None
    canonical_url: str | None = None
    source: str | None = None
    author: str | None = None
    published: str | None = None  # YYYY-MM-DD
    language: str | None = None
    origin: str | None = None  # where it was ingested from: a path, URL or "-"
    fingerprint: str | None = None
    summary_only: bool = False  # a feed entry whose full text could not be had: its summary stands in
    id: str | None = None
    ingested_at: str | None = None
    scores: list[TopicScore] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    unrelated: bool = False  # the machine's verdict: not about child protection, so no machine topic

    @property
    def off_topic(self) -> bool:
        """Judged unrelated to child protection, and no person has given it a topic."""
        return self.unrelated and not self.topics

    @property
    def topics(self) -> list[str]:
        """Assigned topics, best score first, with people's corrections applied."""
        by_score = sorted(self.scores, key=lambda s: s.score, reverse=True)
        chosen = [s.topic for s in by_score if s.assigned]
        for c in sorted(self.corrections, key=lambda c: c.created_at):
            if c.action == "add" and c.topic not in chosen:
                chosen.append(c.topic)
            elif c.action == "remove" and c.topic in chosen:
                chosen.remove(c.topic)
        return chosen

    def score_for(self, topic: str) -> TopicScore | None:
        return next((s for s in self.scores if s.topic == topic), None)


@dataclass
class IngestOutcome:
    """What happened to one input: added, updated, duplicate (of an id) or failed (with a reason)."""

    source: str
    status: IngestStatus
    id: str | None = None
    title: str | None = None
    topics: list[str] = field(default_factory=list)
    duplicate_of: str | None = None
    error: str | None = None
    warning: str | None = None  # a problem with the input that did not stop it (a malformed feed)
    off_topic: bool = False  # judged unrelated to child protection, with no topic from a person


@dataclass
class SearchQuery:
    """Everything a search can ask: the query text, filters, order and page."""

    q: str = ""
    topics: list[str] = field(default_factory=list)
    source: str | None = None
    language: str | None = None  # an ISO 639-1 code, as detected at ingest
    date_from: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD
    date_to: str | None = None
    sort: SortOrder = "relevance"
    page: int = 1
    per_page: int = 10


@dataclass
class Hit:
    """One search result; `snippet` and `title_html` are HTML where only <mark> is markup."""

    id: str
    title: str
    url: str | None
    source: str | None
    date: str | None
    topics: list[str]
    score: float
    snippet: str
    title_html: str = ""
    off_topic: bool = False
    author: str | None = None


@dataclass(frozen=True)
class TimelineBucket:
    """Matching articles in one month ("2021-03") or year ("2021"), split by primary topic."""

    period: str
    total: int
    topics: dict[str, int]  # primary topic (or "none") -> count; the counts add up to total


@dataclass(frozen=True)
class Timeline:
    """Matches over time: consecutive buckets from the first dated match to the last, gaps as zeros."""

    unit: Literal["month", "year"]
    buckets: list[TimelineBucket]
    undated: int = 0

    @property
    def peak(self) -> int:
        return max((b.total for b in self.buckets), default=0)


@dataclass
class SearchResult:
    """A page of hits with the total count, facet counts over all matches, and timing."""

    query: str
    total: int
    page: int
    per_page: int
    took_ms: float
    hits: list[Hit]
    facets: dict[str, dict[str, int]]
    suggestion: str | None = None
    timeline: Timeline | None = None

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class Similar:
    """Articles like one article: other coverage of the same event, and more on the same subject."""

    same_story: list[Hit]
    more_like_this: list[Hit]


@dataclass
class CheckReport:
    """What `check` found between store and index, and what it repaired.

    `replayed` counts the store's logged changes the index had not applied yet (replayed, or in a dry
    run waiting to be); `unlogged` lists the articles whose difference no logged change explains,
    which the comparison of ids repaired (or would repair) on its own.
    """

    stored: int
    indexed: int
    missing_from_index: list[str] = field(default_factory=list)
    orphans_in_index: list[str] = field(default_factory=list)
    repaired: bool = False
    replayed: int = 0
    unlogged: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing_from_index or self.orphans_in_index or self.replayed or self.unlogged)


@dataclass
class LoggedChanges:
    """What the store's index log holds after a position: the articles changed, each once, with the
    position of each one's first entry, up to position `upto`, in `entries` log entries."""

    upto: int
    first: dict[str, int] = field(default_factory=dict)
    entries: int = 0

    @property
    def ids(self) -> list[str]:
        return list(self.first)

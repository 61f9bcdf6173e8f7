"""Following sources: find a page's feed, poll feeds when due, and ingest only the entries not seen before.

Polls are polite: a conditional request (ETag, Last-Modified) each time, one request per host at a
time (sources on different hosts are polled side by side), a failed poll puts the next one off
(twice as long after each failure, or as long as a 429/503 answer's Retry-After asks) and a source
that failed MAX_FAILURES times in a row is paused until someone resumes or polls it by name.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup

from archive.config import Config
from archive.errors import ArchiveError, FetchError, SourceError
from archive.service import Archive
from archive.subscriptions import DEFAULT_EVERY, Source, parse_every

from .clean import decode_bytes
from .feeds import Feed, entry_article, parse_feed
from .fetch import FetchedPage, fetch
from .learning import load_tagger
from .pipeline import finish_article, page_fetcher, tag_article
from .sources import SourceRef, gunzip, read_source

LOGGER = logging.getLogger(__name__)

MAX_FAILURES = 5  # failed polls in a row after which a source is paused
MAX_BACKOFF = timedelta(days=1)  # the longest a failing source waits before its next poll
POLL_WORKERS = 4  # hosts polled at the same time
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")
ENTRY_ERRORS_KEPT = 5  # entry failures named in a poll's report


@dataclass
class PollReport:
    """What one poll of one source did."""

    source: str
    status: str  # ok (fetched, new entries ingested), unchanged (304 or nothing new), failed, paused
    counts: Counter = field(default_factory=Counter)  # added, updated, duplicate, off-topic, failed entries
    error: str | None = None  # why the poll failed; or the entries that failed, on a poll that worked
    next_poll_at: str | None = None

    @property
    def added(self) -> int:
        return self.counts["added"]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _get(url: str, config: Config, etag: str | None = None, last_modified: str | None = None) -> FetchedPage:
    return fetch(
        url,
        timeout=config.fetch_timeout,
        max_bytes=config.max_fetch_bytes,
        allow_private=config.fetch_allow_private,
        user_agent=config.user_agent,
        etag=etag,
        last_modified=last_modified,
    )


def _read_feed(page: FetchedPage, config: Config) -> Feed:
    return parse_feed(gunzip(page.data, config.max_input_bytes, page.url), page.url, url=page.url)


def discover(url: str, config: Config) -> tuple[str, Feed, str | None]:
    """The feed behind `url`: (feed URL, its parsed entries, the page URL when `url` was a page naming it).

    A page names its feeds with <link rel="alternate" type="application/rss+xml" href="...">; the first is taken.
    """
    raw = read_source(SourceRef(origin=url, url=url), config)  # fetched, size-checked, gzip undone, kind sniffed
    if raw.kind == "feed":
        return raw.url, parse_feed(raw.data, url, url=raw.url), None
    soup = BeautifulSoup(decode_bytes(raw.data, url), "lxml")
    for link in soup.find_all("link", href=True):
        rel = [r.lower() for r in link.get("rel") or []]
        if "alternate" in rel and (link.get("type") or "").split(";")[0].strip().lower() in FEED_TYPES:
            feed_url = urljoin(raw.url, link["href"].strip())
            feed = read_source(SourceRef(origin=feed_url, url=feed_url), config)
            return feed.url, parse_feed(feed.data, feed_url, url=feed.url), raw.url
    raise SourceError(f"{url} is a web page that names no RSS or Atom feed.")


def add_source(
    archive: Archive, url: str, name: str | None = None, every: str = DEFAULT_EVERY, on_topic_only: bool = False
) -> Source:
    """Follow the feed at `url` (or the feed a page at `url` names); it is due for its first poll at once."""
    every_seconds = parse_every(every)
    feed_url, feed, page_url = discover(url, archive.config)
    name = name or feed.title or urlsplit(feed_url).hostname or feed_url
    return archive.sources.add(name, feed_url, every_seconds, on_topic_only=on_topic_only, page_url=page_url)


def retry_delay(error: FetchError, source: Source, now: datetime) -> timedelta:
    """How long a failed source waits: Retry-After on 429 or 503, else its interval doubled per failure."""
    every = timedelta(seconds=source.every_seconds)
    if error.status in (429, 503) and error.retry_after:
        wait = _retry_after(error.retry_after, now)
        if wait is not None:
            return min(max(wait, every), MAX_BACKOFF)
    return min(every * 2 ** min(source.failures, 10), MAX_BACKOFF)


def _retry_after(value: str, now: datetime) -> timedelta | None:
    """Retry-After as seconds ("120") or an HTTP date."""
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


class Poller:
    """Polls sources of one archive; many threads fetch, one at a time tags and stores."""

    def __init__(self, archive: Archive, clock: Callable[[], datetime] = _now) -> None:
        self.archive = archive
        self.clock = clock
        self._tagger = load_tagger(archive.taxonomy, archive.config.tag_model_path)
        self._fetch_page = page_fetcher(archive.config)
        self._store_lock = threading.Lock()

    def poll(self, sources: Iterable[Source]) -> list[PollReport]:
        """Poll each source once, hosts side by side and each host's sources one after another."""
        by_host: dict[str, list[Source]] = defaultdict(list)
        for source in sources:
            by_host[urlsplit(source.url).hostname or ""].append(source)
        if not by_host:
            return []
        with ThreadPoolExecutor(max_workers=min(POLL_WORKERS, len(by_host))) as pool:
            batches = pool.map(lambda group: [self.poll_one(s) for s in group], by_host.values())
            return [report for batch in batches for report in batch]

    def poll_one(self, source: Source) -> PollReport:
        """Fetch one source (conditionally) and ingest its new entries; the outcome is recorded on the source."""
        sources = self.archive.sources
        now = self.clock()
        try:
            page = _get(source.url, self.archive.config, source.etag, source.last_modified)
            feed = None if page.status == 304 else _read_feed(page, self.archive.config)
        except ArchiveError as exc:
            error = exc if isinstance(exc, FetchError) else FetchError(str(exc))
            paused = source.failures + 1 >= MAX_FAILURES
            next_poll = now + retry_delay(error, source, now)
            sources.record_failure(
                source.id, polled_at=now.isoformat(), next_poll_at=next_poll.isoformat(), error=str(exc), paused=paused
            )
            return PollReport(
                source.name, "paused" if paused else "failed", error=str(exc), next_poll_at=next_poll.isoformat()
            )
        counts: Counter = Counter()
        errors: list[str] = []
        if feed is not None:
            self._ingest_new(source, feed, counts, errors)
        problems = ([feed.problem] if feed is not None and feed.problem else []) + errors[:ENTRY_ERRORS_KEPT]
        problem = "; ".join(problems) or None
        next_poll = now + timedelta(seconds=source.every_seconds)
        sources.record_success(
            source.id,
            polled_at=now.isoformat(),
            next_poll_at=next_poll.isoformat(),
            etag=page.etag or (source.etag if feed is None else None),
            last_modified=page.last_modified or (source.last_modified if feed is None else None),
            added=counts["added"],
            skipped=counts["off-topic"],
            problem=problem,
        )
        status = "ok" if counts["added"] or counts["updated"] else "unchanged"
        return PollReport(source.name, status, counts, problem, next_poll.isoformat())

    def _ingest_new(self, source: Source, feed: Feed, counts: Counter, errors: list[str]) -> None:
        """Every entry this source has not given before: extracted here (linked pages fetched), then
        tagged and stored under the source's name with the other hosts' threads kept out, in one index commit."""
        seen = self.archive.sources.seen(source.id, [entry.key for entry in feed.entries])
        extracted = []
        for entry in feed.entries:
            if entry.key in seen:
                continue
            seen.add(entry.key)  # a feed may list one entry twice
            origin = f"{source.url}#{entry.number}"
            try:
                article = finish_article(entry_article(entry, feed, origin, self._fetch_page))
            except ArchiveError as exc:  # the entry is tried again when the feed next changes
                counts["failed"] += 1
                errors.append(str(exc))
                continue
            except Exception as exc:  # an extractor bug must not stop the other entries or sources
                LOGGER.exception("unexpected error while extracting %s", origin)
                counts["failed"] += 1
                errors.append(f"{origin} could not be processed ({type(exc).__name__}).")
                continue
            article.source = source.name
            extracted.append((entry.key, article))
        if not extracted:
            return
        with self._store_lock, self.archive.batch():
            for key, article in extracted:
                tag_article(article, self._tagger)
                if source.on_topic_only and article.unrelated:
                    self.archive.sources.record_entry(source.id, key, None, "off-topic")
                    counts["off-topic"] += 1
                    continue
                try:
                    outcome = self.archive.add(article)
                except ArchiveError as exc:
                    counts["failed"] += 1
                    errors.append(str(exc))
                    continue
                self.archive.sources.record_entry(source.id, key, outcome.id, outcome.status)
                counts[outcome.status] += 1


def due_sources(archive: Archive, names: Iterable[str] = (), everything: bool = False, now: datetime | None = None):
    """What `sources poll` polls: the named sources (paused or not), every unpaused one, or those due."""
    names = list(names)
    if names:
        return [archive.sources.get(name) for name in names]
    return [s for s in archive.sources.list() if (everything and s.status != "paused") or s.due(now)]


def follow(
    archive: Archive,
    stop: threading.Event,
    report: Callable[[PollReport], None] = lambda r: None,
    longest_sleep: float = 60.0,
    clock: Callable[[], datetime] = _now,
) -> None:
    """Poll due sources until `stop` is set, sleeping until the next one is due (at most `longest_sleep` s)."""
    poller = Poller(archive, clock)
    while not stop.is_set():
        for result in poller.poll(due_sources(archive, now=clock())):
            report(result)
        upcoming = [
            datetime.fromisoformat(s.next_poll_at)
            for s in archive.sources.list()
            if s.status != "paused" and s.next_poll_at
        ]
        wait = min([(when - clock()).total_seconds() for when in upcoming] + [longest_sleep])
        stop.wait(max(wait, 1.0))

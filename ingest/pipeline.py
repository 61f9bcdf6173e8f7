"""The ingest pipeline as numbered stages: read, extract, clean, fingerprint, tag, store.

One input may hold many articles (a feed, a JSON Lines file): every stage works per article, and
every article gets its own outcome under an origin such as "feed.xml#3" or "export.jsonl:12".
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial

from archive.config import Config
from archive.errors import ArchiveError, ExtractionError
from archive.models import Article, IngestOutcome
from archive.service import Archive
from archive.workers import worker_pool

from .clean import decode_bytes, detect_language, normalize_line, normalize_text
from .dedup import fingerprint
from .feeds import entry_article, parse_feed
from .html import extract_html_article
from .learning import BlendedTagger, load_tagger
from .limits import check_html_depth, time_budget
from .records import parse_records, record_article
from .sources import RawDocument, SourceRef, expand_sources, read_source
from .tagger import Tagger
from .text import extract_markdown_article, extract_text_article

LOGGER = logging.getLogger(__name__)

PARALLEL_MIN_INPUTS = 16  # fewer inputs than this are extracted here: starting workers costs a second or two
PARALLEL_WINDOW = 256  # inputs handed to the workers at a time


@dataclass
class Extracted:
    """One article from an input, or why it could not be had; `warning` names a problem with the input.

    `result` is the IngestOutcome of the article once it is stored.
    """

    origin: str
    article: Article | None = None
    error: ArchiveError | None = None
    warning: str | None = None
    result: object = None


def finish_article(article: Article) -> Article:
    """Stages 3-4: clean text, language and fingerprint."""
    article.title = normalize_line(article.title) or ""
    article.body = normalize_text(article.body)
    article.language = detect_language(article.body, article.language)
    # A summary is often shared by several entries ("Some text."): its title tells them apart.
    article.fingerprint = fingerprint(f"{article.title}\n\n{article.body}" if article.summary_only else article.body)
    return article


def extract_article(raw: RawDocument, timeout: float = 0) -> Article:
    """Stages 2-4 for an input that holds one article (a page, a text or Markdown file), within `timeout`
    seconds when given."""
    text = decode_bytes(raw.data, raw.origin)
    with time_budget(timeout, raw.origin):
        if raw.kind == "html":
            check_html_depth(text, raw.origin)
            article = extract_html_article(text, raw.origin, url=raw.url)
        else:
            extract = extract_markdown_article if raw.kind == "markdown" else extract_text_article
            article = extract(text, raw.origin)
            article.url = article.canonical_url = raw.url
        return finish_article(article)


def page_fetcher(config: Config) -> Callable[[str], Article] | None:
    """What a feed entry uses to read the page it links to, when the settings allow it."""
    if not config.feed_fetch_links:
        return None

    def fetch_page(url: str) -> Article:
        raw = read_source(SourceRef(origin=url, url=url), config)
        if raw.kind != "html":
            raise ExtractionError(f"{url} is not a web page.")
        html = decode_bytes(raw.data, url)
        with time_budget(config.extraction_timeout, url):
            check_html_depth(html, url)
            return extract_html_article(html, url, url=raw.url)

    return fetch_page


def extract_articles(raw: RawDocument, config: Config) -> Iterator[Extracted]:
    """Stages 2-4 for any input: each article it holds, or the reason it failed."""
    if raw.kind == "feed":
        feed = parse_feed(raw.data, raw.origin, url=raw.url)
        fetch_page = page_fetcher(config)
        warning = f"{raw.origin}: {feed.problem}" if feed.problem else None
        for entry in feed.entries:
            origin = f"{raw.origin}#{entry.number}"
            try:
                yield Extracted(origin, finish_article(entry_article(entry, feed, origin, fetch_page)), warning=warning)
            except ArchiveError as exc:
                yield Extracted(origin, error=exc, warning=warning)
    elif raw.kind == "records":
        for origin, record in parse_records(decode_bytes(raw.data, raw.origin), raw.origin):
            try:
                if isinstance(record, ArchiveError):
                    raise record
                yield Extracted(origin, finish_article(record_article(record, origin)))
            except ArchiveError as exc:
                yield Extracted(origin, error=exc)
    else:
        yield Extracted(raw.origin, extract_article(raw, config.extraction_timeout))


def tag_article(article: Article, tagger: Tagger | BlendedTagger) -> Article:
    """Stage 5: machine topic scores with evidence, and whether the article is about child protection at all."""
    tagging = tagger.tag(article.title, article.body)
    article.scores, article.unrelated = tagging.scores, tagging.unrelated
    return article


def read_and_extract(ref: SourceRef, config: Config) -> Article:
    """Stages 1-4 for an input that holds one article; the first article of a feed or records file."""
    for item in extract_articles(read_source(ref, config), config):
        if item.error:
            raise item.error
        assert item.article is not None
        return item.article
    raise ExtractionError(f"{ref.origin} holds no article.")


def process(refs: Iterable[SourceRef], config: Config) -> Iterator[Extracted]:
    """Stages 1-4 for every input: each article it holds, or the reason it failed; never an exception."""
    readers = ((ref.origin, partial(read_source, ref, config)) for ref in refs)
    return process_documents(readers, config)


def process_documents(readers: Iterable[tuple[str, Callable[[], RawDocument]]], config: Config) -> Iterator[Extracted]:
    """`process` for inputs given as (origin, a function that reads its RawDocument): files, uploads, pastes."""
    for origin, read in readers:
        try:
            yield from extract_articles(read(), config)
        except ArchiveError as exc:
            yield Extracted(origin, error=exc)
        except Exception as exc:  # an extractor bug must not stop the rest of a batch
            LOGGER.exception("unexpected error while processing %s", origin)
            error = ExtractionError(f"{origin} could not be processed ({type(exc).__name__}: {exc}).")
            yield Extracted(origin, error=error)


def ingest_refs(archive: Archive, refs: Iterable[SourceRef]) -> Iterator[IngestOutcome]:
    """Stage 6: each article tagged and added to the archive, with an explicit outcome per article.

    Many inputs (a folder, a long list) are read and extracted on every core at once, in input order;
    tagging and storing stay in this process, which alone writes to the archive."""
    refs = list(refs)
    procs = extraction_procs(archive.config, refs)
    if procs > 1:
        return _store_tagged(archive, extract_in_parallel(refs, archive.config, procs))
    readers = [(ref.origin, partial(read_source, ref, archive.config)) for ref in refs]
    return ingest_documents(archive, readers)


def extraction_procs(config: Config, refs: list[SourceRef]) -> int:
    """Worker processes for extracting `refs`: one per core (or the `extract_procs` setting), one when
    there are few inputs or one of them is standard input."""
    if len(refs) < PARALLEL_MIN_INPUTS or any(ref.origin == "-" for ref in refs):
        return 1
    return max(1, min(config.extract_procs or os.cpu_count() or 1, len(refs)))


def extract_in_parallel(refs: list[SourceRef], config: Config, procs: int) -> Iterator[Extracted]:
    """Stages 1-4 for each input on `procs` processes; a window of inputs at a time keeps memory bounded."""
    with worker_pool(procs) as pool:
        for start in range(0, len(refs), PARALLEL_WINDOW):
            window = refs[start : start + PARALLEL_WINDOW]
            for items in pool.map(_extract_one, window, [config] * len(window), chunksize=4):
                yield from items


def _extract_one(ref: SourceRef, config: Config) -> list[Extracted]:
    """In a worker process: every article of one input, or why it failed."""
    return list(process_documents([(ref.origin, partial(read_source, ref, config))], config))


def _store_tagged(archive: Archive, items: Iterator[Extracted], batched: bool = True) -> Iterator[IngestOutcome]:
    """Stages 5-6 for extracted articles: tagged and added (in one index batch when `batched`)."""
    tagger = load_tagger(archive.taxonomy, archive.config.tag_model_path)
    with archive.batch() if batched else nullcontext():
        for item in items:
            if item.error is None and item.article is not None:
                try:
                    item.result = archive.add(tag_article(item.article, tagger))
                except ArchiveError as exc:
                    item.error = exc
            yield _outcome(item)


def _outcome(item: Extracted) -> IngestOutcome:
    if item.error is not None:
        outcome = IngestOutcome(source=item.origin, status="failed", error=str(item.error))
    else:
        outcome = item.result
        outcome.source = item.origin
    outcome.warning = item.warning
    return outcome


def ingest_documents(archive: Archive, readers: list[tuple[str, Callable[[], RawDocument]]]) -> Iterator[IngestOutcome]:
    """Ingest inputs given as (origin, reader): tagged, added, one outcome per article; a single input
    is searchable as soon as it is added."""
    extracted = process_documents(readers, archive.config)
    return _store_tagged(archive, extracted, batched=len(readers) > 1)


def ingest_sources(archive: Archive, specs: list[str]) -> Iterator[IngestOutcome]:
    """Ingest files, folders (recursively), URLs or "-" (stdin) into `archive`."""
    refs, _ = expand_sources(specs)
    yield from ingest_refs(archive, refs)

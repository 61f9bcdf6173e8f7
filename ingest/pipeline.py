"""The ingest pipeline as numbered stages: read, extract, clean, fingerprint, tag, store."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext

from archive.config import Config
from archive.errors import ArchiveError, ExtractionError
from archive.models import Article, IngestOutcome
from archive.service import Archive

from .clean import decode_bytes, normalize_line, normalize_text
from .dedup import fingerprint
from .html import extract_html_article
from .sources import RawDocument, SourceRef, expand_sources, read_source
from .tagger import Tagger
from .text import extract_text_article

LOGGER = logging.getLogger(__name__)


def extract_article(raw: RawDocument) -> Article:
    """Stages 2-4: text and metadata from the raw bytes, cleaned and fingerprinted; nothing is stored."""
    text = decode_bytes(raw.data, raw.origin)
    if raw.kind == "html":
        article = extract_html_article(text, raw.origin, url=raw.url)
    else:
        article = extract_text_article(text, raw.origin)
        article.url = article.canonical_url = raw.url
    article.title = normalize_line(article.title) or ""
    article.body = normalize_text(article.body)
    article.fingerprint = fingerprint(article.body)
    return article


def tag_article(article: Article, tagger: Tagger) -> Article:
    """Stage 5: machine topic scores with evidence."""
    article.scores = tagger.score(article.title, article.body)
    return article


def read_and_extract(ref: SourceRef, config: Config) -> Article:
    """Stages 1-4 for one input."""
    return extract_article(read_source(ref, config))


def process(
    refs: Iterable[SourceRef], config: Config, work: Callable[[Article], object]
) -> Iterator[tuple[SourceRef, object]]:
    """Run `work` on each input's article; failures become an ExtractionError-like outcome, never an exception."""
    for ref in refs:
        try:
            yield ref, work(read_and_extract(ref, config))
        except ArchiveError as exc:
            yield ref, exc
        except Exception as exc:  # an extractor bug must not stop the rest of a batch
            LOGGER.exception("unexpected error while processing %s", ref.origin)
            yield ref, ExtractionError(f"{ref.origin} could not be processed ({type(exc).__name__}: {exc}).")


def ingest_refs(archive: Archive, refs: Iterable[SourceRef]) -> Iterator[IngestOutcome]:
    """Stage 6: each input tagged and added to the archive, with an explicit outcome per input."""
    tagger = Tagger(archive.taxonomy)
    refs = list(refs)
    with archive.batch() if len(refs) > 1 else nullcontext():
        for ref, result in process(refs, archive.config, lambda a: archive.add(tag_article(a, tagger))):
            if isinstance(result, Exception):
                yield IngestOutcome(source=ref.origin, status="failed", error=str(result))
            else:
                result.source = ref.origin
                yield result


def ingest_sources(archive: Archive, specs: list[str]) -> Iterator[IngestOutcome]:
    """Ingest files, folders (recursively), URLs or "-" (stdin) into `archive`."""
    refs, _ = expand_sources(specs)
    yield from ingest_refs(archive, refs)

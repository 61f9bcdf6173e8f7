"""Sources: expand what the user named (files, folders, URLs, stdin) and read each into a RawDocument."""

from __future__ import annotations

import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from archive.config import Config
from archive.errors import ExtractionError

from .fetch import fetch

Kind = Literal["html", "text", "markdown", "feed", "records"]

HTML_SUFFIXES = {".html", ".htm", ".xhtml", ".shtml"}
TEXT_SUFFIXES = {".txt", ".text"}
MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown"}
FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf"}
RECORDS_SUFFIXES = {".json", ".jsonl", ".ndjson"}
SUFFIX_KINDS: dict[str, Kind] = {
    **dict.fromkeys(HTML_SUFFIXES, "html"),
    **dict.fromkeys(TEXT_SUFFIXES, "text"),
    **dict.fromkeys(MARKDOWN_SUFFIXES, "markdown"),
    **dict.fromkeys(FEED_SUFFIXES, "feed"),
    **dict.fromkeys(RECORDS_SUFFIXES, "records"),
}
# Inside folders these suffixes are too often something else (labels.json, sitemap.xml): named directly,
# they are read as records and feeds.
FOLDER_SKIPPED_SUFFIXES = {".json", ".xml"}
GZIP_MAGIC = b"\x1f\x8b"
# Files that document a folder of articles rather than being one.
NOT_ARTICLES = ("readme", "license", "licence", "changelog", "copying")


@dataclass(frozen=True)
class SourceRef:
    """One input to read: a file path, an http(s) URL, or "-" for standard input."""

    origin: str
    path: Path | None = None
    url: str | None = None


@dataclass
class RawDocument:
    """The bytes of one source and what we know about it."""

    origin: str
    data: bytes
    kind: Kind
    url: str | None = None


def is_url(spec: str) -> bool:
    return spec.lower().startswith(("http://", "https://"))


def _is_candidate(path: Path) -> bool:
    if any(part.startswith(".") for part in path.parts):
        return False
    # The whole name before its suffixes: "license-plate-cameras.txt" is an article, README.en.txt is not.
    if path.name.lower().split(".", 1)[0] in NOT_ARTICLES:
        return False
    suffix = _suffix(path)
    return suffix in SUFFIX_KINDS and suffix not in FOLDER_SKIPPED_SUFFIXES


def _suffix(path: Path) -> str:
    """The suffix that names the format: "feed.xml.gz" is a feed."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def expand_sources(specs: list[str]) -> tuple[list[SourceRef], int]:
    """Each spec as inputs: folders recursively (article files only, in name order).

    Returns the inputs and how many files inside folders were skipped as not articles. Paths
    that do not exist are kept, so that reading them reports a clear failure in order.
    """
    refs: list[SourceRef] = []
    skipped = 0
    for spec in specs:
        if spec == "-" or is_url(spec):
            refs.append(SourceRef(origin=spec, url=spec if is_url(spec) else None))
            continue
        path = Path(spec)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if _is_candidate(child.relative_to(path)):
                    refs.append(SourceRef(origin=str(child), path=child))
                else:
                    skipped += 1
        else:
            refs.append(SourceRef(origin=spec, path=path))
    return refs, skipped


def sniff_kind(data: bytes, hint: str | None = None) -> Kind:
    """The format from a file suffix or content type when it names one, else from the first bytes."""
    if hint:
        hint = hint.lower()
        if hint in SUFFIX_KINDS:
            return SUFFIX_KINDS[hint]
        if "html" in hint:
            return "html"
        if any(word in hint for word in ("rss", "atom", "rdf", "xml")):
            return "feed"
        if "json" in hint:
            return "records"
        if "markdown" in hint:
            return "markdown"
        if hint.startswith("text/plain"):
            return "text"
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<rss", b"<feed", b"<rdf:rdf")):
        return "feed"
    if head.startswith(b"<?xml"):
        return "html" if b"<html" in head else "feed"
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head or b"<head" in head:
        return "html"
    if head.startswith((b"{", b"[")):
        return "records"
    return "text"


def gunzip(data: bytes, limit: int, name: str) -> bytes:
    """Gzip-compressed input decompressed, refusing more than `limit` bytes of output (a zip bomb)."""
    if not data.startswith(GZIP_MAGIC):
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ExtractionError(f"{name} is a damaged gzip file ({exc}).") from None
    if len(out) > limit:
        raise ExtractionError(f"{name} decompresses to more than the {limit:,}-byte limit for one input.")
    if not inflater.eof:
        raise ExtractionError(f"{name} is a damaged gzip file (it ends before its data does).")
    return out


def read_source(ref: SourceRef, config: Config) -> RawDocument:
    """The bytes of one input, gzip undone; raises an ArchiveError with a sentence for the user when it cannot."""
    limit = config.max_input_bytes
    if ref.url:
        page = fetch(
            ref.url,
            timeout=config.fetch_timeout,
            max_bytes=config.max_fetch_bytes,
            allow_private=config.fetch_allow_private,
            user_agent=config.user_agent,
        )
        origin, name, data, hint, url = ref.origin, ref.origin, page.data, page.content_type, page.url
    elif ref.origin == "-":
        origin, name, data, hint, url = "-", "standard input", sys.stdin.buffer.read(limit + 1), None, None
        _check_size(len(data), limit, name)
    else:
        assert ref.path is not None
        origin = name = str(ref.path)
        data, hint, url = _read_file(ref.path, limit), _suffix(ref.path) or None, None
    data = gunzip(data, limit, name)
    return RawDocument(origin, data, sniff_kind(data, hint), url=url)


def read_bytes(name: str, data: bytes, config: Config) -> RawDocument:
    """An input received as bytes (an upload): size-checked, gzip undone, format from the name or content.

    `name` is only a label and a format hint: nothing is ever written under it.
    """
    _check_size(len(data), config.max_input_bytes, name)
    plain = gunzip(data, config.max_input_bytes, name)
    return RawDocument(name, plain, sniff_kind(plain, _suffix(Path(name)) or None))


def pasted_text(title: str, text: str) -> RawDocument:
    """Text pasted with its title, as a text document whose first line is the title."""
    return RawDocument("pasted text", f"{title.strip()}\n\n{text.strip()}\n".encode(), "text")


def _read_file(path: Path, limit: int) -> bytes:
    if not path.exists():
        raise ExtractionError(f"{path} does not exist.")
    if path.is_dir():
        raise ExtractionError(f"{path} is a folder with no article files.")
    try:
        _check_size(path.stat().st_size, limit, str(path))
        return path.read_bytes()
    except PermissionError:
        raise ExtractionError(f"{path} cannot be read (permission denied).") from None
    except OSError as exc:
        raise ExtractionError(f"{path} cannot be read ({exc.strerror or exc}).") from None


def _check_size(size: int, limit: int, name: str) -> None:
    if size > limit:
        raise ExtractionError(f"{name} is larger than the {limit:,}-byte limit for one input.")

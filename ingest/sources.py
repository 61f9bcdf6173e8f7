"""Sources: expand what the user named (files, folders, URLs, stdin) and read each into a RawDocument."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from archive.config import Config
from archive.errors import ExtractionError

from .fetch import fetch

Kind = Literal["html", "text"]

HTML_SUFFIXES = {".html", ".htm", ".xhtml", ".shtml"}
TEXT_SUFFIXES = {".txt", ".text"}
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
    return path.suffix.lower() in HTML_SUFFIXES | TEXT_SUFFIXES


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
    """html or text, from a file suffix or content type when given, else from the first bytes."""
    if hint:
        hint = hint.lower()
        if hint in HTML_SUFFIXES or "html" in hint:
            return "html"
        if hint in TEXT_SUFFIXES or hint.startswith("text/plain"):
            return "text"
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<body" in head or b"<head" in head:
        return "html"
    return "text"


def read_source(ref: SourceRef, config: Config) -> RawDocument:
    """The bytes of one input; raises an ArchiveError with a sentence for the user when it cannot."""
    limit = config.max_input_bytes
    if ref.url:
        page = fetch(
            ref.url,
            timeout=config.fetch_timeout,
            max_bytes=limit,
            allow_private=config.fetch_allow_private,
            user_agent=config.user_agent,
        )
        return RawDocument(ref.origin, page.data, sniff_kind(page.data, page.content_type), url=page.url)
    if ref.origin == "-":
        data = sys.stdin.buffer.read(limit + 1)
        _check_size(len(data), limit, "standard input")
        return RawDocument("-", data, sniff_kind(data))
    path = ref.path
    assert path is not None
    if not path.exists():
        raise ExtractionError(f"{path} does not exist.")
    if path.is_dir():
        raise ExtractionError(f"{path} is a folder with no article files.")
    try:
        _check_size(path.stat().st_size, limit, str(path))
        data = path.read_bytes()
    except PermissionError:
        raise ExtractionError(f"{path} cannot be read (permission denied).") from None
    except OSError as exc:
        raise ExtractionError(f"{path} cannot be read ({exc.strerror or exc}).") from None
    return RawDocument(str(path), data, sniff_kind(data, path.suffix))


def _check_size(size: int, limit: int, name: str) -> None:
    if size > limit:
        raise ExtractionError(f"{name} is larger than the {limit:,}-byte limit for one input.")

"""Extraction benchmark: our HTML extractor against plain trafilatura on pages with reference extractions.

`python -m ingest.benchmark DIR` (or `make bench-extract`) reads DIR/html/<id>.html.gz and
DIR/ground-truth/<id>.json (fields url, title, author, publish_date, main_content), scores the body by
word 4-gram shingle precision, recall and F1 averaged over pages, and title, author and date by
accuracy, and prints both extractors side by side with pages per second.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import operator
import os
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean

import trafilatura

from archive.errors import ArchiveError

from .clean import decode_bytes
from .html import extract_html_article

SHINGLE = 4
_WORD = re.compile(r"\w+")


@dataclass
class Page:
    id: str
    html: str
    url: str | None
    title: str | None
    author: str | None
    date: str | None
    text: str


@dataclass
class Extraction:
    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None


@dataclass
class Scores:
    """Per-page figures for one extractor; None where the reference has no value to compare."""

    precision: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    title: list[bool] = field(default_factory=list)
    author: list[bool] = field(default_factory=list)
    date: list[bool] = field(default_factory=list)
    seconds: float = 0.0
    modified_date_references: int = 0  # date misses whose reference is the page's modification date
    misses: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        def share(values: list[bool]) -> float:
            return sum(values) / len(values) if values else 0.0

        return {
            "precision": mean(self.precision),
            "recall": mean(self.recall),
            "f1": mean(self.f1),
            "title": share(self.title),
            "author": share(self.author),
            "date": share(self.date),
            "pages_per_s": len(self.f1) / self.seconds if self.seconds else 0.0,
        }


def words(text: str) -> list[str]:
    """Lower-cased words, punctuation dropped, accents kept (the reference texts keep them)."""
    return _WORD.findall(unicodedata.normalize("NFC", text).lower().replace("_", " "))


def shingles(text: str) -> set[tuple[str, ...]]:
    tokens = words(text)
    if len(tokens) < SHINGLE:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1)}


def shingle_scores(extracted: str, reference: str) -> tuple[float, float, float]:
    got, want = shingles(extracted), shingles(reference)
    if not got and not want:
        return 1.0, 1.0, 1.0
    if not got or not want:
        return 0.0, 0.0, 0.0
    common = len(got & want)
    precision, recall = common / len(got), common / len(want)
    f1 = 2 * precision * recall / (precision + recall) if common else 0.0
    return precision, recall, f1


def same_text(got: str | None, want: str) -> bool:
    return bool(got) and words(got) == words(want)


def same_author(got: str | None, want: str) -> bool:
    """Equal as sets of names, or one name contains the other (a reference may list only the first author)."""
    if not got:
        return False
    want_names = {" ".join(words(n)) for n in re.split(r",|\band\b|&", want) if words(n)}
    got_names = {" ".join(words(n)) for n in re.split(r",|\band\b|&", got) if words(n)}
    return want_names == got_names or " ".join(words(want)) == " ".join(words(got))


def modification_dates(html: str) -> set[str]:
    """The dates a page gives as its last modification (JSON-LD dateModified, modified-time meta tags)."""
    found = re.findall(r'(?:dateModified"?\s*[:=]\s*"|modified_time"?\s+content=")(\d{4}-\d{2}-\d{2})', html)
    return set(found)


def load_pages(directory: Path, limit: int | None = None) -> Iterator[Page]:
    truth = sorted((directory / "ground-truth").glob("*.json"))
    for path in truth[:limit]:
        ref = json.loads(path.read_text(encoding="utf-8"))
        html_path = directory / "html" / f"{path.stem}.html.gz"
        if not html_path.exists():
            continue
        html = decode_bytes(gzip.decompress(html_path.read_bytes()), html_path.name)
        yield Page(
            id=path.stem,
            html=html,
            url=ref.get("url"),
            title=ref.get("title"),
            author=ref.get("author"),
            date=ref.get("publish_date"),
            text=ref.get("main_content") or "",
        )


def ours(page: Page) -> Extraction:
    try:
        article = extract_html_article(page.html, page.id, url=page.url)
    except ArchiveError:
        return Extraction(text="")
    return Extraction(text=article.body, title=article.title, author=article.author, date=article.published)


def plain_trafilatura(page: Page) -> Extraction:
    document = trafilatura.bare_extraction(page.html, url=page.url, with_metadata=True)
    if document is None:
        return Extraction(text="")
    return Extraction(text=document.text or "", title=document.title, author=document.author, date=document.date)


EXTRACTORS: dict[str, Callable[[Page], Extraction]] = {"topic-archive": ours, "trafilatura": plain_trafilatura}


def _run(job: tuple[str, Page]) -> tuple[Extraction, float]:
    name, page = job
    started = time.process_time()
    got = EXTRACTORS[name](page)
    return got, time.process_time() - started


def score(pages: list[Page], name: str, processes: int) -> Scores:
    """Run extractor `name` over `pages` in `processes` workers; speed is per core (CPU seconds per page)."""
    scores = Scores()
    with multiprocessing.Pool(processes) as pool:
        results = pool.imap(_run, [(name, page) for page in pages], chunksize=4)
        for page, (got, seconds) in zip(pages, results, strict=True):
            scores.seconds += seconds
            p, r, f = shingle_scores(got.text, page.text)
            scores.precision.append(p)
            scores.recall.append(r)
            scores.f1.append(f)
            if f < 0.8:
                scores.misses.setdefault("body", []).append(page.id)
            for field_name, same in (("title", same_text), ("author", same_author), ("date", operator.eq)):
                want = getattr(page, field_name)
                if want:
                    ok = same(getattr(got, field_name), want)
                    getattr(scores, field_name).append(ok)
                    if not ok:
                        scores.misses.setdefault(field_name, []).append(page.id)
                    if field_name == "date" and not ok and got.date and want in modification_dates(page.html):
                        scores.modified_date_references += 1
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="folder with html/ and ground-truth/")
    parser.add_argument("--limit", type=int, help="score only the first N pages")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--json", type=Path, help="also write the figures and the missed pages to this file")
    args = parser.parse_args(argv)
    if not (args.directory / "ground-truth").is_dir():
        print(f"bench-extract: error: {args.directory} has no ground-truth/ folder.", file=sys.stderr)
        return 2
    pages = list(load_pages(args.directory, args.limit))
    results = {name: score(pages, name, args.processes) for name in EXTRACTORS}
    summaries = {name: s.summary() for name, s in results.items()}
    counts = {name: len(getattr(results["trafilatura"], name)) for name in ("title", "author", "date")}
    print(f"{len(pages)} pages; with a reference " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    columns = ("precision", "recall", "f1", "title", "author", "date", "pages_per_s")
    print(f"{'extractor':<15}" + "".join(f"{c:>12}" for c in columns))
    for name, summary in summaries.items():
        print(f"{name:<15}" + "".join(f"{summary[c]:>12.3f}" for c in columns))
    for name, s in results.items():
        print(
            f"{name}: {len(s.misses.get('date', []))} date misses, {s.modified_date_references} of them where"
            " the reference is the page's modification date and a publication date was given"
        )
    gain = summaries["topic-archive"]["f1"] - summaries["trafilatura"]["f1"]
    print(f"body F1 difference: {gain:+.3f}")
    if args.json:
        report = {"pages": len(pages), "summary": summaries, "misses": {n: s.misses for n, s in results.items()}}
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

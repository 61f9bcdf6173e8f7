"""ingest.pipeline: each input read, extracted, fingerprinted, tagged and stored, with an explicit outcome."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from pathlib import Path

import pytest

import ingest.pipeline
from archive.models import TOPICS
from archive.service import Archive
from ingest.dedup import fingerprint
from ingest.pipeline import extract_article, ingest_sources, read_and_extract
from ingest.sources import SourceRef, read_source
from tests.conftest import CEOP_SEED, HYMAS_SEED, SEEDS

LABELS = json.loads((SEEDS / "labels.json").read_text(encoding="utf-8"))

PARAGRAPHS = [
    "Police forces across England and Wales recorded a sharp rise in online grooming offences last year, "
    "according to figures obtained by a children's charity through freedom of information requests.",
    "The charity said social media platforms must do more to detect adults who contact children, and called on "
    "ministers to strengthen the law before it returns to Parliament in the spring.",
]


def html_page(headline: str, paragraphs: list[str], canonical: str = "https://news.example.org/grooming-rise") -> str:
    ps = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html lang="en"><head><title>{headline} | Example News</title>
<link rel="canonical" href="{canonical}?utm_source=rss"><meta property="og:site_name" content="Example News">
<meta property="article:published_time" content="2021-03-14T09:00:00Z"></head>
<body><nav><a href="/">Home</a></nav><article><h1>{headline}</h1>{ps}</article>
<footer>Example News Ltd</footer></body></html>"""


def is_one_sentence(message: str, origin: str) -> bool:
    """A message for a user: starts with the input's name, one line, one sentence ending in a full stop."""
    rest = message.removeprefix(origin)
    return (
        message.startswith(origin)
        and message.endswith(".")
        and "\n" not in message
        and not re.search(r"[.!?]\s", rest[:-1])
    )


# -- seeds ---------------------------------------------------------------------------------------------------


def test_ingesting_the_seeds_adds_both(archive: Archive) -> None:
    outcomes = list(ingest_sources(archive, [str(SEEDS)]))
    assert [o.status for o in outcomes] == ["added", "added"]
    assert [o.source for o in outcomes] == [str(CEOP_SEED), str(HYMAS_SEED)]  # name order; README, labels skipped
    assert archive.count() == 2
    for outcome, seed in zip(outcomes, [CEOP_SEED, HYMAS_SEED], strict=True):
        stored = archive.get(outcome.id)
        assert outcome.title == stored.title and outcome.title
        assert outcome.error is None and outcome.duplicate_of is None
        assert outcome.topics == stored.topics
        assert outcome.topics and set(outcome.topics) <= set(TOPICS)
        assert LABELS[seed.name]["primary"] in outcome.topics
        assert stored.origin == str(seed)
        assert stored.fingerprint == fingerprint(stored.body)
        assert sorted(s.topic for s in stored.scores) == sorted(TOPICS)  # a score for every topic
    assert outcomes[1].title == "Record number of 'obscenity' offences by paedophiles sharing child abuse images"
    assert archive.get(outcomes[1].id).author == "Charles Hymas"


def test_ingesting_the_seeds_again_finds_duplicates(archive: Archive) -> None:
    first = list(ingest_sources(archive, [str(SEEDS)]))
    again = list(ingest_sources(archive, [str(CEOP_SEED), str(HYMAS_SEED)]))
    assert [o.status for o in again] == ["duplicate", "duplicate"]
    assert [o.duplicate_of for o in again] == [o.id for o in first]
    assert [o.id for o in again] == [o.id for o in first]
    assert [o.title for o in again] == [o.title for o in first]
    assert archive.count() == 2


def test_the_same_text_with_other_whitespace_is_a_duplicate(archive: Archive, tmp_path: Path) -> None:
    [first] = ingest_sources(archive, [str(CEOP_SEED)])
    text = CEOP_SEED.read_text(encoding="utf-8")
    messy = tmp_path / "copy.txt"
    messy.write_bytes(("\n\n\n" + text.replace(" ", "  \t").replace("\n", "\r\n") + "\n\n").encode("utf-8"))
    [outcome] = ingest_sources(archive, [str(messy)])
    assert (outcome.status, outcome.duplicate_of, outcome.source) == ("duplicate", first.id, str(messy))
    assert archive.count() == 1


def test_the_same_text_in_another_encoding_is_a_duplicate(archive: Archive, tmp_path: Path) -> None:
    [first] = ingest_sources(archive, [str(HYMAS_SEED)])
    text = HYMAS_SEED.read_text(encoding="utf-8")
    copy = tmp_path / "windows.txt"
    copy.write_bytes(text.encode("cp1252"))
    [outcome] = ingest_sources(archive, [str(copy)])
    assert (outcome.status, outcome.duplicate_of) == ("duplicate", first.id)


# -- failures ------------------------------------------------------------------------------------------------


def test_a_batch_with_bad_inputs_adds_the_good_one(archive: Archive, tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00")
    short = tmp_path / "short.txt"
    short.write_text("Headline\n\nToo short to be an article.", encoding="utf-8")
    good = tmp_path / "good.html"
    good.write_text(html_page("Police warn of rise in grooming", PARAGRAPHS), encoding="utf-8")

    specs = [missing, empty, good, binary, short]
    outcomes = list(ingest_sources(archive, [str(p) for p in specs]))

    assert [o.source for o in outcomes] == [str(p) for p in specs]  # one outcome per input, in order
    assert [o.status for o in outcomes] == ["failed", "failed", "added", "failed", "failed"]
    assert archive.count() == 1
    assert archive.get(outcomes[2].id).title == "Police warn of rise in grooming"
    expected = {
        str(missing): "does not exist",
        str(empty): "is empty",
        str(binary): "binary",
        str(short): "too little text",
    }
    for outcome in outcomes:
        if outcome.status == "failed":
            assert expected[outcome.source] in outcome.error
            assert is_one_sentence(outcome.error, outcome.source), outcome.error
            assert outcome.id is None and outcome.title is None and outcome.topics == []


def test_an_unexpected_extractor_error_fails_one_input_and_the_batch_goes_on(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    page = tmp_path / "a-page.html"
    page.write_text(html_page("Police warn of rise in grooming", PARAGRAPHS), encoding="utf-8")

    def broken(*args, **kwargs):
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(ingest.pipeline, "extract_html_article", broken)
    with caplog.at_level(logging.ERROR, logger="ingest.pipeline"):
        outcomes = list(ingest_sources(archive, [str(page), str(CEOP_SEED)]))

    assert [o.status for o in outcomes] == ["failed", "added"]
    assert outcomes[0].error == f"{page} could not be processed (RuntimeError: parser exploded)."
    assert archive.count() == 1
    # The traceback is logged for developers; the user sees the sentence.
    assert any(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in caplog.records)


# -- updates by canonical URL --------------------------------------------------------------------------------


def test_new_text_at_a_known_canonical_url_updates_the_article(archive: Archive, tmp_path: Path) -> None:
    first_version = tmp_path / "v1.html"
    first_version.write_text(html_page("Police warn of rise in grooming", PARAGRAPHS), encoding="utf-8")
    correction = "A correction: the figures cover England only, the charity said on Tuesday after checking them."
    second_version = tmp_path / "v2.html"
    second_version.write_text(
        html_page("Police warn of rise in grooming (corrected)", [*PARAGRAPHS, correction]), encoding="utf-8"
    )

    [added] = ingest_sources(archive, [str(first_version)])
    [updated] = ingest_sources(archive, [str(second_version)])

    assert added.status == "added"
    assert (updated.status, updated.id, updated.duplicate_of) == ("updated", added.id, None)
    assert updated.title == "Police warn of rise in grooming (corrected)"
    assert archive.count() == 1
    stored = archive.get(added.id)
    assert stored.canonical_url == "https://news.example.org/grooming-rise"
    assert correction in stored.body
    assert stored.fingerprint == fingerprint(stored.body)


def test_other_canonical_urls_are_other_articles(archive: Archive, tmp_path: Path) -> None:
    one = tmp_path / "one.html"
    one.write_text(html_page("First story", PARAGRAPHS, "https://news.example.org/one"), encoding="utf-8")
    two = tmp_path / "two.html"
    two.write_text(html_page("Second story", PARAGRAPHS[::-1], "https://news.example.org/two"), encoding="utf-8")
    outcomes = list(ingest_sources(archive, [str(one), str(two)]))
    assert [o.status for o in outcomes] == ["added", "added"]
    assert outcomes[0].id != outcomes[1].id


# -- extraction only -----------------------------------------------------------------------------------------


def test_extract_article_stores_nothing(archive: Archive) -> None:
    raw = read_source(SourceRef(origin=str(HYMAS_SEED), path=HYMAS_SEED), archive.config)
    article = extract_article(raw)
    assert article.title == "Record number of 'obscenity' offences by paedophiles sharing child abuse images"
    assert article.fingerprint == fingerprint(article.body)
    assert article.id is None and article.scores == []
    assert archive.count() == 0
    assert archive.check().indexed == 0


def test_extract_article_from_html_keeps_its_metadata(archive: Archive, tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    page.write_text(html_page("Police warn of rise in grooming", PARAGRAPHS), encoding="utf-8")
    article = read_and_extract(SourceRef(origin=str(page), path=page), archive.config)
    assert (article.title, article.source, article.published) == (
        "Police warn of rise in grooming",
        "Example News",
        "2021-03-14",
    )
    assert article.canonical_url == "https://news.example.org/grooming-rise"
    assert article.body == "\n\n".join(PARAGRAPHS)
    assert archive.count() == 0


def test_extract_article_normalises_title_and_body(tmp_path: Path) -> None:
    from ingest.sources import RawDocument

    text = "Police  warn\u200b of rise\n\n" + "\n\n".join(p.replace(" ", "   ") for p in PARAGRAPHS)
    article = extract_article(RawDocument(origin="x.txt", data=text.encode("utf-8"), kind="text"))
    assert article.title == "Police warn of rise"
    assert article.body == "\n\n".join(PARAGRAPHS)
    assert article.url is None and article.canonical_url is None


# -- standard input ------------------------------------------------------------------------------------------


class FakeStdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_ingesting_standard_input(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", FakeStdin(HYMAS_SEED.read_bytes()))
    [outcome] = ingest_sources(archive, ["-"])
    assert (outcome.status, outcome.source) == ("added", "-")
    assert archive.get(outcome.id).origin == "-"


def test_many_inputs_are_extracted_on_several_processes_with_the_same_outcomes_in_order(tmp_path):
    from archive.config import load_config
    from archive.service import Archive
    from ingest.pipeline import PARALLEL_MIN_INPUTS, extraction_procs, ingest_sources

    folder = tmp_path / "inbox"
    folder.mkdir()
    for n in range(PARALLEL_MIN_INPUTS + 4):
        body = f"Police arrested man number {n} over online grooming of children, the NSPCC said. " * 6
        (folder / f"{n:03d}.txt").write_text(f"Arrest {n}\n\n{body}")
    (folder / "005b.txt").write_bytes(b"\x00\x01\x02")  # fails, in its place
    (folder / "007b.txt").write_text((folder / "007.txt").read_text())  # a duplicate

    def outcomes(procs: int):
        config = load_config(tmp_path / f"data{procs}", {"extract_procs": procs})
        with Archive(config=config) as archive:
            refs_procs = extraction_procs(config, [SourceRef(str(n)) for n in range(PARALLEL_MIN_INPUTS)])
            got = [
                (o.source.split("/")[-1], o.status, o.id, tuple(o.topics))
                for o in ingest_sources(archive, [str(folder)])
            ]
            return refs_procs, got, archive.count()

    sequential_procs, sequential, stored = outcomes(1)
    parallel_procs, parallel, stored_in_parallel = outcomes(2)
    assert (sequential_procs, parallel_procs) == (1, 2)
    config = load_config(tmp_path / "data2", {"extract_procs": 2})
    assert extraction_procs(config, [SourceRef("-")] * PARALLEL_MIN_INPUTS) == 1  # stdin is read here
    assert extraction_procs(config, [SourceRef("a")] * (PARALLEL_MIN_INPUTS - 1)) == 1  # too few to be worth it
    assert parallel == sequential and stored_in_parallel == stored == PARALLEL_MIN_INPUTS + 4
    assert [status for name, status, _, _ in parallel if name in {"005b.txt", "007b.txt"}] == ["failed", "duplicate"]

"""Concurrent use: threads searching one `Archive` while two CLI ingests write to it from other processes.

For a fixed time, N threads search through the archive's search API (as waitress threads do) while
two workers each run `archive ingest --json` processes back to back over fresh articles: JSON Lines
files (one index commit per article, the most lock traffic) and folders of text files (one commit
per batch) in turn. No search and no process may fail, no writer may see a lock error, and at the
end every ingested article is found by its own token.
"""

from __future__ import annotations

import json
import random
import subprocess
import threading
import time
import traceback
from pathlib import Path

from archive.models import SearchQuery
from archive.service import Archive
from ingest.pipeline import ingest_sources
from tests.test_crash import ARCHIVE_BIN, MARKER, article_parts, token, write_text_articles

SEARCH_THREADS = 4
SECONDS = 3.0  # how long the ingests keep starting new processes (each worker runs two at least)
MIN_PROCESSES = 2  # per worker: one JSON Lines file, one folder
CHUNK = 8  # articles per ingest process
PAUSE = 0.01  # seconds between a thread's searches, to leave the ingest processes some of two cores
SEEDED = 20
FIRST_NUMBER = {0: 10_000, 1: 20_000}  # each ingest worker numbers its articles from here
WRITER_TROUBLE = ("Traceback", "LockError", "writer is closed", "busy", "error")

QUERIES = (
    SearchQuery(q=MARKER),
    SearchQuery(q="police report"),
    SearchQuery(q='"online safety"'),
    SearchQuery(q="prot*"),
    SearchQuery(q="child", topics=["law_enforcement"]),
    SearchQuery(q="", sort="newest"),
    SearchQuery(q=MARKER, page=2, per_page=5),
    SearchQuery(q="grooming OR sextortion", sort="oldest"),
)


def write_records(path: Path, numbers: range, rnd: random.Random) -> Path:
    """A JSON Lines file of generated articles: the pipeline reads it as one input of many articles."""
    with path.open("w", encoding="utf-8") as out:
        for number in numbers:
            title, body = article_parts(number, rnd)
            out.write(json.dumps({"title": title, "text": body}) + "\n")
    return path


def search_until(arch: Archive, stop: threading.Event, rnd: random.Random, errors: list[str], counts: list[int]):
    """Search in a loop, as a waitress thread would, until `stop`; every exception is an error."""
    try:
        while not stop.wait(PAUSE):
            if rnd.random() < 0.1:
                hits = list(arch.search_all(SearchQuery(q=MARKER)))
                assert len({h.id for h in hits}) == len(hits), "the index returned an article twice"
            else:
                arch.search(rnd.choice(QUERIES))
            counts.append(1)
    except BaseException:
        errors.append(traceback.format_exc())


def ingest_until(data: Path, worker: int, deadline: float, work: Path, ingested: dict[int, str], errors: list[str]):
    """Run ingest processes back to back until `deadline`; record each article's id by its number."""
    rnd = random.Random(worker)
    first = FIRST_NUMBER[worker]
    chunk = 0
    try:
        while chunk < MIN_PROCESSES or time.monotonic() < deadline:
            numbers = range(first + chunk * CHUNK, first + (chunk + 1) * CHUNK)
            if chunk % 2 == 0:
                inputs = [write_records(work / f"w{worker}-{chunk}.jsonl", numbers, rnd)]
            else:
                inputs = write_text_articles(work / f"w{worker}-{chunk}", CHUNK, seed=rnd.random(), start=numbers[0])
            proc = subprocess.run(
                [ARCHIVE_BIN, "--data", str(data), "ingest", "--json", *map(str, inputs)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            trouble = [word for word in WRITER_TROUBLE if word.lower() in proc.stderr.lower()]
            if proc.returncode != 0 or trouble:
                errors.append(f"ingest worker {worker} exited {proc.returncode}: {proc.stderr}")
                return
            for line in map(json.loads, proc.stdout.splitlines()):
                if line["status"] != "added":
                    errors.append(f"ingest worker {worker}: {line}")
                    return
                number = int(line["title"].split()[1])  # "Report N on ..."
                ingested[number] = line["id"]
            chunk += 1
    except BaseException:
        errors.append(traceback.format_exc())


def test_searches_in_threads_and_two_ingesting_processes_see_no_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Archive(data) as arch:
        seeded = list(ingest_sources(arch, [str(write_text_articles(tmp_path / "seed", SEEDED)[0].parent)]))
        assert [o.status for o in seeded] == ["added"] * SEEDED
        stop = threading.Event()
        errors: list[str] = []
        searches: list[int] = []
        ingested: dict[int, str] = {}
        searchers = [
            threading.Thread(target=search_until, args=(arch, stop, random.Random(n), errors, searches))
            for n in range(SEARCH_THREADS)
        ]
        deadline = time.monotonic() + SECONDS
        ingesters = [
            threading.Thread(target=ingest_until, args=(data, worker, deadline, tmp_path, ingested, errors))
            for worker in FIRST_NUMBER
        ]
        for thread in searchers + ingesters:
            thread.start()
        for thread in ingesters:
            thread.join(timeout=180)
        stop.set()
        for thread in searchers:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in searchers + ingesters)
        assert not errors, "\n".join(errors)
        for worker, first in FIRST_NUMBER.items():
            assert sum(first <= n < first + 10_000 for n in ingested) >= MIN_PROCESSES * CHUNK, worker
        # The processes have exited: the app's next search sees their commits without a reopen.
        for number, article_id in ingested.items():
            assert [h.id for h in arch.search(SearchQuery(q=token(number))).hits] == [article_id], number
        report = arch.check(repair=False)
        assert report.ok and report.stored == SEEDED + len(ingested), report
        hits = [h.id for h in arch.search_all(SearchQuery(q=MARKER))]
        assert len(hits) == len(set(hits)) == SEEDED + len(ingested)
    print(
        f"\nconcurrency test: {len(searches)} searches in {SEARCH_THREADS} threads, {len(ingested)} articles ingested"
    )

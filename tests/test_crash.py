"""Crash safety: an ingest killed with SIGKILL at random moments loses nothing it reported and stores nothing twice.

Small generated articles are ingested by the CLI in a subprocess, killed 20 times at delays drawn
from a seeded random generator; each run resumes the same archive with the articles not yet
reported (or all of them again once every one has been reported). Runs alternate between a list of
text files (stored one by one, indexed in batches: a kill leaves stored articles to index) and one
JSON Lines file (an index commit per article: kills land inside commits). After each kill the
archive must open, `archive check` must repair what the kill left and then pass, and every article
reported `added` must be stored once and found by its own token.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from archive.benchmark import FIELD_WORDS
from archive.models import SearchQuery
from archive.service import Archive

ARCHIVE_BIN = str(Path(sys.executable).with_name("archive"))
MARKER = "crashmark"  # in every generated article: one search finds them all
KILLS = 20
ARTICLES = 1000
SEED = 20260507
KILL_AFTER_FIRST_OUTCOME = (0.0, 1.2)  # seconds; measured from the first outcome, so a slow start-up does not matter
STARTUP_KILLS = 0.15  # share of runs killed instead within their first second, while the archive opens
SAMPLED_TOKENS = 15  # articles searched by their own token after each kill (all of them at the end)


TOKEN = re.compile(r"\buniq(\d{5})x\b")


def token(number: int) -> str:
    """A word only article `number` holds."""
    return f"uniq{number:05d}x"


def write_text_articles(folder: Path, count: int, seed: int = SEED, start: int = 0) -> list[Path]:
    """`count` small plain-text articles with distinct bodies, each holding MARKER and its own token."""
    rnd = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(start, start + count):
        title, body = article_parts(number, rnd)
        path = folder / f"article-{number:05d}.txt"
        path.write_text(f"{title}\n\n{body}\n", encoding="utf-8")
        paths.append(path)
    return paths


def article_parts(number: int, rnd: random.Random) -> tuple[str, str]:
    """Title and body of generated article `number`: forty random words of the field, MARKER and its token."""
    words = " ".join(rnd.choices(FIELD_WORDS, k=40))
    return (
        f"Report {number} on {MARKER} matters",
        f"The word {token(number)} is in this {MARKER} article only. {words.capitalize()}.",
    )


def number_of(path: Path) -> int:
    return int(path.stem.rsplit("-", 1)[1])


def number_in(outcome: dict) -> int:
    """The generated article an outcome is about, from its title ("Report N on ...")."""
    return int(outcome["title"].split()[1])


def write_records(path: Path, files: list[Path]) -> Path:
    """One JSON Lines file holding the articles of these text files, word for word."""
    with path.open("w", encoding="utf-8") as out:
        for file in files:
            title, body = file.read_text(encoding="utf-8").split("\n\n", 1)
            out.write(json.dumps({"title": title, "text": body.strip()}) + "\n")
    return path


def run_cli(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ARCHIVE_BIN, "--data", str(data), *args], capture_output=True, text=True, timeout=120)


def complete_lines(path: Path) -> list[dict]:
    """The JSON outcome lines a killed process finished writing (a torn last line is ignored)."""
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n") and line.strip()]


def ingest_until(data: Path, source: list[Path], kill: tuple[str, float] | None, out: Path) -> tuple[int, list[dict]]:
    """Run `archive ingest --json` over `source`; SIGKILL it `kill[1]` seconds after its "start" or its
    "first" outcome line, or let it finish when `kill` is None. Returns its exit code and the outcomes it printed."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # every outcome line reaches the file when it is printed
    with out.open("w") as stdout:
        proc = subprocess.Popen(
            [ARCHIVE_BIN, "--data", str(data), "ingest", "--json", *map(str, source)],
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=env,
        )
        if kill is None:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err.decode()
        else:
            since, delay = kill
            if since == "first":
                give_up = time.monotonic() + 60
                while proc.poll() is None and not out.stat().st_size and time.monotonic() < give_up:
                    time.sleep(0.01)
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=60)
    # An extraction worker being spawned when its parent is killed cannot read what the parent was
    # still sending it, and Python's spawn bootstrap says so on the shared stderr: that is the kill,
    # not an error of the ingest. Any other traceback fails the test.
    orphans = err.count(b"in spawn_main") if proc.returncode == -signal.SIGKILL else 0
    assert err.count(b"Traceback") == orphans, err.decode()
    return proc.returncode, complete_lines(out)


def check_json(data: Path, *flags: str) -> tuple[int, dict]:
    proc = run_cli(data, "check", "--json", *flags)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def assert_check_repairs(data: Path) -> dict:
    """`check --dry-run` reports, `check` repairs the same findings (assert_consistent checks again)."""
    code, dry = check_json(data, "--dry-run")
    assert code == (0 if dry["ok"] else 1) and not dry["repaired"], dry
    code, repair = check_json(data)
    assert code == (0 if dry["ok"] else 1), repair
    # The dry run changed nothing: the repairing run found exactly what it reported.
    for key in ("stored", "indexed", "ok", "missing_from_index", "orphans_in_index"):
        assert repair[key] == dry[key], key
    assert repair["repaired"] == (not dry["ok"])
    return dry


def stored_by_number(data: Path) -> dict[int, list[str]]:
    """Article number -> ids of the stored articles holding its token, read from SQLite itself."""
    found: dict[int, list[str]] = {}
    with sqlite3.connect(f"file:{data / 'archive.sqlite3'}?mode=ro", uri=True) as conn:
        for article_id, body in conn.execute("SELECT id, body FROM articles"):
            numbers = _tokens_in(body)
            assert len(numbers) == 1, (article_id, body)
            found.setdefault(numbers[0], []).append(article_id)
    return found


def _tokens_in(body: str) -> list[int]:
    return [int(word) for word in TOKEN.findall(body)]


def assert_consistent(data: Path, reported: dict[int, str], rnd: random.Random, sample: int | None) -> None:
    """After a repair: the next check passes, every reported article is stored once and searchable,
    and the index holds each stored article once."""
    stored = stored_by_number(data)
    twice = {n: ids for n, ids in stored.items() if len(ids) > 1}
    assert not twice, f"stored more than once: {twice}"
    missing = {n: i for n, i in reported.items() if stored.get(n) != [i]}
    assert not missing, f"reported added or duplicate but not stored under that id: {missing}"
    with Archive(data) as arch:
        again = arch.check(repair=False)  # `archive check` itself in a process costs a second a run
        assert again.ok and again.stored == again.indexed == len(stored), again
        # check compares sets of ids; the hit count would also count an article indexed twice.
        assert arch.search(SearchQuery(q=MARKER)).total == len(stored), "the index holds an article twice"
        numbers = sorted(reported)
        chosen = numbers if sample is None else rnd.sample(numbers, min(sample, len(numbers)))
        for number in chosen:
            result = arch.search(SearchQuery(q=token(number)))
            assert [h.id for h in result.hits] == [reported[number]], (number, result.total)


def test_ingest_killed_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    inputs = write_text_articles(tmp_path / "inputs", ARTICLES)
    rnd = random.Random(SEED)
    reported: dict[int, str] = {}  # article number -> the id an outcome gave it (added, or duplicate of)
    outcomes = {"added": 0, "duplicate": 0}
    killed = repaired = 0
    started = time.monotonic()
    for run in range(KILLS):
        todo = [p for p in inputs if number_of(p) not in reported] or inputs  # all again once all are reported
        source = todo if run % 2 == 0 else [write_records(tmp_path / f"run-{run}-input.jsonl", todo)]
        if rnd.random() < STARTUP_KILLS:
            kill = ("start", rnd.uniform(0.0, 1.0))
        else:
            kill = ("first", rnd.uniform(*KILL_AFTER_FIRST_OUTCOME))
        code, lines = ingest_until(data, source, kill, tmp_path / f"run-{run}.jsonl")
        killed += code == -signal.SIGKILL
        for line in lines:
            assert line["status"] in ("added", "duplicate"), line
            article_id = line["id"] if line["status"] == "added" else line["duplicate_of"]
            assert reported.setdefault(number_in(line), article_id) == article_id, line
            outcomes[line["status"]] += 1
        repaired += not assert_check_repairs(data)["ok"]
        assert_consistent(data, reported, rnd, SAMPLED_TOKENS)
    assert killed >= KILLS * 3 // 4, f"only {killed} of {KILLS} runs were killed before they finished"
    assert outcomes["added"], "no run got as far as adding an article before its kill"
    # What a kill interrupted was stored (or not) but unreported: a last run, not killed, reports it.
    todo = [p for p in inputs if number_of(p) not in reported] or inputs
    _, lines = ingest_until(data, todo, None, tmp_path / "final.jsonl")
    for line in lines:
        reported.setdefault(number_in(line), line["id"] if line["status"] == "added" else line["duplicate_of"])
    assert sorted(reported) == list(range(ARTICLES))
    assert_check_repairs(data)
    assert_consistent(data, reported, rnd, sample=None)
    code, report = check_json(data)
    assert code == 0 and report["ok"] and report["stored"] == report["indexed"] == ARTICLES, report
    print(
        f"\ncrash test: {killed} of {KILLS} runs killed, {repaired} left the index to repair; {outcomes['added']}"
        f" added and {outcomes['duplicate']} duplicate outcomes before the kills; {time.monotonic() - started:.1f} s"
    )

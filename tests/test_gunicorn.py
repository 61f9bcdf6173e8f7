"""gunicorn worker processes: `gunicorn -w 2 --threads 4` serves searches while `archive ingest`
processes add articles, for a bounded time. No request may fail, no worker may log a traceback, and
every ingested article must then be found through HTTP.

Each worker process opens its own Archive and keeps a searcher; it sees the ingest's commits because
the searcher is replaced whenever `up_to_date()` says the index changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from archive.service import Archive
from ingest.pipeline import ingest_sources
from tests.test_crash import ARCHIVE_BIN, MARKER, token, write_text_articles
from tests.test_load import free_port

pytest.importorskip("gunicorn", reason="gunicorn is not installed (pip install -e '.[test]')")

WORKERS = 2
THREADS = 4
CLIENTS = 4
SECONDS = 3.0  # clients search at least this long, and until the ingest has finished
MAX_REQUESTS_PER_CLIENT = 5_000  # a bound on count as well as on time
SEEDED = 4
ARTICLES = 36
INGESTS = 2  # CLI processes, one after the other: the workers see the index change several times
FIRST_NUMBER = 30_000  # the ingested articles' numbers (their tokens), apart from the seeded ones
STARTUP_SECONDS = 60
LOOKUPS = 2  # searches per ingested article at the end, so that both workers are likely asked
PAUSE = 0.05  # seconds between a client's requests, to leave the ingest processes some of the cores


def get(base: str, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


@pytest.fixture
def gunicorn(tmp_path: Path):
    """gunicorn on a free loopback port, with the web app factory over a seeded archive; yields the
    base URL and the data folder, and checks the server's log once it has stopped."""
    data = tmp_path / "data"
    with Archive(data) as arch:
        outcomes = list(ingest_sources(arch, [str(write_text_articles(tmp_path / "seed", SEEDED)[0].parent)]))
        assert [o.status for o in outcomes] == ["added"] * SEEDED
    port = free_port()
    log = tmp_path / "gunicorn.log"  # a file, not a pipe, which a chatty server could fill
    command = [
        sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--threads", str(THREADS),
        "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "10", "web:create_app()",
    ]  # fmt: skip
    env = {**os.environ, "ARCHIVE_DATA": str(data)}
    with log.open("w") as stderr:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                status, body = get(base, "/healthz")
                if status == 200 and json.loads(body)["articles"] == SEEDED:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail(f"gunicorn did not start: {log.read_text()}")
            time.sleep(0.2)
        yield base, data
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - reported by the assertion below
            server.kill()
            server.wait(timeout=30)
    assert "Traceback" not in log.read_text(), log.read_text()


def search_until(base: str, done: threading.Event, deadline: float, answers: list[str], errors: list[str]) -> None:
    """Search the JSON API and the results page in turn until the ingest is done and `deadline` passed."""
    paths = [f"/api/search?q={MARKER}", f"/search?q={MARKER}", "/api/search?q=police+report", "/search?q=child"]
    for n in range(MAX_REQUESTS_PER_CLIENT):
        if done.wait(PAUSE) and time.monotonic() >= deadline:
            return
        path = paths[n % len(paths)]
        try:
            status, body = get(base, path)
        except Exception as exc:  # a refused or dropped connection, a timeout: all count as errors
            errors.append(f"{path}: {type(exc).__name__}: {exc}")
            continue
        if status != 200:
            errors.append(f"{path}: HTTP {status}: {body[:200]!r}")
        elif path.startswith("/api/") and "total" not in json.loads(body):
            errors.append(f"{path}: no total in {body[:200]!r}")
        else:
            answers.append(path)


def test_two_gunicorn_workers_serve_searches_while_the_cli_ingests(gunicorn, tmp_path: Path) -> None:
    base, data = gunicorn
    size = ARTICLES // INGESTS
    folders = [
        write_text_articles(tmp_path / f"inputs-{n}", size, seed=n, start=FIRST_NUMBER + n * size)[0].parent
        for n in range(INGESTS)
    ]
    done = threading.Event()
    answers: list[str] = []
    errors: list[str] = []
    clients = [
        threading.Thread(target=search_until, args=(base, done, time.monotonic() + SECONDS, answers, errors))
        for _ in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    ingested: dict[int, str] = {}
    try:
        for folder in folders:
            ingest = subprocess.run(
                [ARCHIVE_BIN, "--data", str(data), "ingest", "--json", str(folder)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert ingest.returncode == 0 and "Traceback" not in ingest.stderr, ingest.stderr
            for record in map(json.loads, ingest.stdout.splitlines()):
                ingested[int(record["title"].split()[1])] = record["id"]  # "Report N on ..."
    finally:
        done.set()
        for client in clients:
            client.join(timeout=SECONDS + 120)
    assert not any(c.is_alive() for c in clients)
    assert not errors, f"{len(errors)} failed requests, first: {errors[:5]}"
    assert answers, "no search was answered"
    assert sorted(ingested) == list(range(FIRST_NUMBER, FIRST_NUMBER + ARTICLES))
    for number, article_id in ingested.items():
        for _ in range(LOOKUPS):
            status, body = get(base, f"/api/search?q={quote(token(number))}")
            assert status == 200 and [h["id"] for h in json.loads(body)["hits"]] == [article_id], number
    status, body = get(base, f"/api/search?q={MARKER}&per_page=1")
    assert status == 200 and json.loads(body)["total"] == SEEDED + ARTICLES
    print(f"\ngunicorn test: {len(answers)} searches answered by {WORKERS} workers while {ARTICLES} articles came in")

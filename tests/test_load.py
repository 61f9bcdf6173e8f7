"""Load: 20 clients searching `archive serve` over loopback for a bounded time, with zero errors.

The duration is ARCHIVE_LOAD_SECONDS (5 s by default, so the suite stays fast); the figures the
closing notes quote come from a 30-second run:

    ARCHIVE_LOAD_SECONDS=30 .venv/bin/pytest -s tests/test_load.py

It prints throughput and latency percentiles and asserts only that every request was answered
200 with a well-formed page: a benchmark prints figures, it never asserts on time.
"""

from __future__ import annotations

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest

from archive.benchmark import MIX, synthetic_articles
from archive.service import Archive

ARCHIVE_BIN = str(Path(sys.executable).with_name("archive"))
CLIENTS = 20
SECONDS = float(os.environ.get("ARCHIVE_LOAD_SECONDS", "5"))
MAX_REQUESTS_PER_CLIENT = 50_000  # a bound on count as well as on time
ARTICLES = 150
STARTUP_SECONDS = 60


@dataclass
class Tally:
    """One client's requests: latencies of the good ones, a line per failure."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def request_paths() -> list[str]:
    """The benchmark's search mix, as JSON API calls and as results pages, plus a second page and a misspelling."""
    paths = []
    for query in MIX:
        params = [("q", query.q), *(("topic", t) for t in query.topics), ("sort", query.sort)]
        params += [(name, value) for name, value in (("from", query.date_from), ("to", query.date_to)) if value]
        paths += [f"/api/search?{urlencode(params)}", f"/search?{urlencode(params)}"]
    return paths + ["/api/search?q=police&page=2", "/search?q=polise+offcers"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """`archive serve` on a free loopback port over an archive of synthetic articles; yields its base URL."""
    tmp = tmp_path_factory.mktemp("load")
    data = tmp / "data"
    with Archive(data) as arch:
        assert arch.import_articles(synthetic_articles(ARTICLES), procs=1)["added"] == ARTICLES
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "serve.log"  # a file, not a pipe: waitress's queue warnings must never block the server
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [ARCHIVE_BIN, "--data", str(data), "serve", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    assert json.loads(response.read())["articles"] == ARTICLES
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "Traceback" not in log.read_text(), log.read_text()


def search_until(base: str, deadline: float, rnd: random.Random, paths: list[str], tally: Tally) -> None:
    """Request random paths of the mix until `deadline`; anything but a well-formed 200 is an error."""
    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if time.monotonic() >= deadline:
            return
        path = rnd.choice(paths)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(base + path, timeout=30) as response:
                body = response.read()
                status = response.status
            elapsed = (time.perf_counter() - started) * 1000
            if status != 200:
                tally.errors.append(f"{path}: HTTP {status}")
            elif path.startswith("/api/") and "total" not in json.loads(body):
                tally.errors.append(f"{path}: no total in {body[:200]!r}")
            elif not path.startswith("/api/") and b"</html>" not in body:
                tally.errors.append(f"{path}: not a whole page")
            else:
                tally.latencies_ms.append(elapsed)
        except urllib.error.HTTPError as exc:
            exc.close()
            tally.errors.append(f"{path}: HTTP {exc.code}")
        except Exception as exc:  # a refused or dropped connection, a timeout: all count as errors
            tally.errors.append(f"{path}: {type(exc).__name__}: {exc}")


def test_twenty_clients_searching_get_no_error(server: str) -> None:
    paths = request_paths()
    tallies = [Tally() for _ in range(CLIENTS)]
    started = time.monotonic()
    deadline = started + SECONDS
    clients = [
        threading.Thread(target=search_until, args=(server, deadline, random.Random(n), paths, tallies[n]))
        for n in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=SECONDS + 120)
    elapsed = time.monotonic() - started
    assert not any(c.is_alive() for c in clients)
    errors = [e for t in tallies for e in t.errors]
    latencies = [ms for t in tallies for ms in t.latencies_ms]
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    print(
        f"\nload test: {CLIENTS} clients for {elapsed:.1f} s: {len(latencies) + len(errors)} requests,"
        f" {len(errors)} errors, {len(latencies) / elapsed:.1f} requests/s;"
        f" latency p50 {cuts[49]:.1f} ms, p95 {cuts[94]:.1f} ms, p99 {cuts[98]:.1f} ms,"
        f" max {max(latencies, default=float('nan')):.1f} ms"
    )
    assert not errors, f"{len(errors)} errors, first: {errors[:5]}"
    assert all(t.latencies_ms for t in tallies), "a client got no answer"

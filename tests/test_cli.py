"""The `archive` command end to end, in a subprocess, against a temporary archive."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from archive.cli import main
from archive.models import SearchQuery
from archive.service import Archive
from tests.conftest import CEOP_SEED, PROJECT_ROOT, SEEDS

ARCHIVE_BIN = str(Path(sys.executable).with_name("archive"))


def run(data: Path, *args: str, stdin: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ARCHIVE_BIN, "--data", str(data), *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def json_lines(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]


def assert_one_clear_line(proc, code: int) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == code, (proc.returncode, err)
    assert "Traceback" not in err
    return err


@pytest.fixture
def seeded(tmp_path) -> Path:
    data = tmp_path / "data"
    proc = run(data, "ingest", "--json", str(SEEDS))
    assert proc.returncode == 0, proc.stderr.decode()
    return data


def test_ingest_seeds_adds_both_and_again_reports_duplicates(seeded):
    with Archive(seeded) as arch:
        assert arch.count() == 2
        ids = {h.id for h in arch.search(SearchQuery()).hits}
    again = run(seeded, "ingest", "--json", str(SEEDS))
    assert again.returncode == 0
    records = json_lines(again)
    assert [r["status"] for r in records] == ["duplicate", "duplicate"]
    assert {r["duplicate_of"] for r in records} == ids
    assert set(records[0]) == {"source", "status", "id", "title", "topics", "duplicate_of", "error", "warning",
                               "off_topic"}  # fmt: skip
    with Archive(seeded) as arch:
        assert arch.count() == 2


def test_search_json_returns_the_ceop_article_highlighted(seeded):
    proc = run(seeded, "search", "--json", "CEOP")
    assert proc.returncode == 0
    result = json.loads(proc.stdout)
    assert list(result) == ["query", "total", "page", "per_page", "took_ms", "hits", "facets", "timeline", "suggestion"]
    assert result["total"] == 1
    hit = result["hits"][0]
    assert set(hit) == {"id", "title", "url", "source", "date", "topics", "off_topic", "score", "snippet"}
    assert hit["title"].startswith("The Child Exploitation and Online Protection Centre (CEOP)")
    assert "<mark>CEOP</mark>" in hit["snippet"]
    assert set(result["facets"]) == {"topic", "source", "year", "language"}
    assert result["timeline"]["unit"] == "month"
    assert sum(b["total"] for b in result["timeline"]["buckets"]) + result["timeline"]["undated"] == 1


def test_search_filters_and_text_output(seeded):
    proc = run(seeded, "search", "--topic", "prevention", "images")
    assert proc.returncode == 0
    out = proc.stdout.decode()
    assert out.startswith("1 result(s)")
    assert "Record number of 'obscenity' offences" in out
    assert "<mark>" not in out


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["search", '"unbalanced'], 2, "quote"),
        (["search", "(police"], 2, "bracket"),
        (["search", "--from", "2020-13", "x"], 2, "not a date"),
        (["search", "--sort", "sideways", "x"], 2, "sideways"),
        (["show", "nope"], 1, "No article has the id"),
        (["ingest", "/does/not/exist"], 1, "does not exist"),
        (["extract", "/does/not/exist"], 1, "does not exist"),
    ],
)
def test_user_mistakes_give_one_clear_message_and_exit_code(seeded, args, code, message):
    err = assert_one_clear_line(run(seeded, *args), code)
    assert message in err


def test_a_batch_with_bad_inputs_still_adds_the_good_one(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "nothing.html").write_text("<html><body><nav>Home</nav></body></html>")
    data = tmp_path / "data"
    proc = run(
        data,
        "ingest",
        "--json",
        str(tmp_path / "empty.txt"),
        str(tmp_path / "image.txt"),
        str(tmp_path / "nothing.html"),
        "/no/such/file",
        str(CEOP_SEED),
    )
    err = assert_one_clear_line(proc, 1)
    statuses = [r["status"] for r in json_lines(proc)]
    assert statuses == ["failed", "failed", "failed", "failed", "added"]
    assert all(r["error"] for r in json_lines(proc)[:4])
    assert "empty" in err and "binary" in err and "no article text" in err
    with Archive(data) as arch:
        assert arch.count() == 1


def test_ingest_from_stdin(tmp_path):
    proc = run(tmp_path / "data", "ingest", "--json", "-", stdin=CEOP_SEED.read_bytes())
    assert proc.returncode == 0
    assert json_lines(proc)[0]["status"] == "added"


def test_extract_and_tag_store_nothing(tmp_path):
    data = tmp_path / "data"
    extracted = run(data, "extract", "--json", str(SEEDS / "004_b03aa456c916806a.txt"))
    assert extracted.returncode == 0
    record = json_lines(extracted)[0]
    assert set(record) == {"source", "title", "author", "date", "url", "language", "publisher", "summary_only", "text"}
    assert record["author"] == "Charles Hymas"
    assert record["title"] == "Record number of 'obscenity' offences by paedophiles sharing child abuse images"
    tagged = run(data, "tag", "--json", str(CEOP_SEED))
    record = json_lines(tagged)[0]
    assert set(record) == {"source", "topics", "scores", "evidence", "relevance", "off_topic"}
    assert record["topics"][0] == "law_enforcement"
    assert record["off_topic"] is False and record["relevance"] > 0.9
    assert {"term": "ceop", "count": 5} in record["evidence"]["law_enforcement"]
    assert not data.exists()


def test_show_prints_the_article_with_evidence(seeded):
    with Archive(seeded) as arch:
        article_id = arch.search(SearchQuery(q="CEOP")).hits[0].id
    record = json.loads(run(seeded, "show", "--json", article_id).stdout)
    assert record["id"] == article_id and "Peter Davies" in record["text"]
    assert record["scores"]["law_enforcement"] > 0.6
    text = run(seeded, "show", article_id).stdout.decode()
    assert "law_enforcement" in text and "ceop x5" in text


def test_check_reports_then_repairs_and_reindex_rebuilds(seeded):
    assert run(seeded, "check").returncode == 0
    with Archive(seeded) as arch:
        victim = arch.search(SearchQuery(q="CEOP")).hits[0].id
        arch.index.delete([victim])
    dry = run(seeded, "check", "--dry-run", "--json")
    assert dry.returncode == 1 and json.loads(dry.stdout)["missing_from_index"] == [victim]
    assert json.loads(dry.stdout)["unlogged"] == [victim]  # no logged change explains it: ids compared
    assert run(seeded, "check").returncode == 1  # found and repaired
    assert run(seeded, "check").returncode == 0
    assert run(seeded, "reindex").returncode == 0
    assert json.loads(run(seeded, "search", "--json", "CEOP").stdout)["total"] == 1


def test_check_replays_the_logged_changes_the_index_lacks_and_says_so(seeded):
    with Archive(seeded) as arch:
        victim = arch.search(SearchQuery(q="CEOP")).hits[0].id
        arch.store.delete(victim)  # logged in the store; the index never told (a kill in between)
    dry = run(seeded, "check", "--dry-run", "--json")
    report = json.loads(dry.stdout)
    assert dry.returncode == 1 and (report["replayed"], report["unlogged"]) == (1, [])
    assert report["orphans_in_index"] == [victim] and not report["repaired"]
    repair = run(seeded, "check")
    assert repair.returncode == 1
    assert "1 logged change(s) not in the index yet: replayed them" in repair.stdout.decode()
    assert "1 in the index without a stored article: removed them" in repair.stdout.decode()
    assert run(seeded, "check").returncode == 0
    assert json.loads(run(seeded, "search", "--json", "CEOP").stdout)["total"] == 0


def test_a_reindex_in_another_process_swaps_the_index_under_a_held_searcher(seeded):
    with Archive(seeded) as arch:
        old = arch.index.folder
        with arch.index.searcher() as held:
            assert run(seeded, "reindex").returncode == 0
            assert not old.exists()  # swapped out and removed
            assert held.doc_count() == 2 and len(list(held.documents())) == 2  # still reads what it opened
        assert arch.search(SearchQuery(q="CEOP")).total == 1  # the next search opens the new generation
        assert arch.index.folder != old and arch.index.folder == (seeded / "index").resolve()


def test_load_samples_is_idempotent_and_if_empty_skips_a_full_archive(tmp_path):
    data = tmp_path / "data"
    first = run(data, "load-samples", "--json")
    assert first.returncode == 0, first.stderr.decode()
    added = [r for r in json_lines(first) if r["status"] == "added"]
    assert len(added) >= 24
    again = run(data, "load-samples", "--json")
    assert {r["status"] for r in json_lines(again)} == {"duplicate"}
    skipped = run(data, "load-samples", "--if-empty")
    assert skipped.returncode == 0 and "already holds" in skipped.stderr.decode()


def test_a_broken_config_file_is_a_usage_error(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text("port = 'many'\n")
    assert "must be a int" in assert_one_clear_line(run(data, "search", "x"), 2)


def test_serve_answers_health_checks_with_waitress(seeded):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [ARCHIVE_BIN, "--data", str(seeded), "serve", "--port", str(port)]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as server:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body = json.loads(response.read())
                    server_header = response.headers.get("Server", "")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    server.kill()
                    raise
                time.sleep(0.2)
        server.terminate()
    assert body["articles"] == 2
    assert server_header == "topic-archive"  # waitress's `ident`, not Werkzeug's development server


def test_every_command_has_help_and_is_in_the_readme():
    readme = (PROJECT_ROOT / "README.md").read_text()
    for name, command in main.commands.items():
        assert command.help, name
        assert f"archive {name}" in readme or f"`{name}`" in readme, f"README does not document {name}"


def test_export_jsonl_holds_everything_and_reingests_to_the_same_articles(seeded: Path, tmp_path: Path) -> None:
    exported = run(seeded, "export")
    assert exported.returncode == 0, exported.stderr.decode()
    records = json_lines(exported)
    assert len(records) == 2
    for record in records:
        assert {"id", "title", "url", "source", "date", "author", "text", "topics", "scores", "evidence",
                "corrections"} <= set(record)  # fmt: skip
    path = tmp_path / "export.jsonl"
    path.write_bytes(exported.stdout)
    copy = tmp_path / "copy"
    assert run(copy, "ingest", str(path)).returncode == 0
    again = {r["text"]: r for r in json_lines(run(copy, "export"))}
    for record in records:
        twin = again[record["text"]]
        for key in ("title", "url", "source", "date", "author", "language", "topics"):
            assert twin[key] == record[key], key


def test_export_csv_has_a_header_and_a_row_per_article(seeded: Path) -> None:
    import csv
    import io

    exported = run(seeded, "export", "--format", "csv")
    assert exported.returncode == 0
    rows = list(csv.DictReader(io.StringIO(exported.stdout.decode("utf-8"))))
    assert len(rows) == 2
    assert {r["id"] for r in rows} == {r["id"] for r in json_lines(run(seeded, "export"))}
    assert all(r["text"] and r["title"] for r in rows)


def test_optimize_merges_the_index_into_one_segment_and_finds_the_same(seeded):
    from archive.benchmark import synthetic_articles

    with Archive(seeded) as arch:
        for article in synthetic_articles(6):  # one segment per add, some merged by Whoosh as they come
            arch.add(article)
        segments = arch.index.segment_count()
    assert segments >= 2
    before = json.loads(run(seeded, "search", "--json", "--per-page", "50", "child OR police").stdout)
    proc = run(seeded, "optimize")
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr.decode().strip() == f"merged {segments} index segments into 1"
    again = run(seeded, "optimize")
    assert (again.returncode, again.stderr.decode().strip()) == (0, "the index is one segment already")
    after = json.loads(run(seeded, "search", "--json", "--per-page", "50", "child OR police").stdout)
    assert after["total"] == before["total"] > 0
    assert [h["id"] for h in after["hits"]] == [h["id"] for h in before["hits"]]
    with Archive(seeded) as arch:
        assert arch.index.segment_count() == 1
        assert len(list(arch.config.index_dir.rglob("*.arrays"))) == 1

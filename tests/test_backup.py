"""Backups: export then import restores every article exactly; the online backup copies a store that
is being written to; bad import lines are reported and the rest still come in."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from archive.models import Article, SearchQuery, TopicScore
from archive.serialize import article_from_record, article_to_record
from archive.service import Archive
from ingest.dedup import fingerprint
from tests.conftest import SEEDS
from tests.test_cli import run


def filled_archive(path: Path) -> Archive:
    from ingest.pipeline import ingest_sources

    arch = Archive(path)
    list(ingest_sources(arch, [str(SEEDS)]))
    ceop = next(a for a in arch.articles() if "CEOP" in a.title)
    arch.correct(ceop.id, "prevention", "add", "ed")
    arch.correct(ceop.id, "policy", "remove", "ed")
    body = "A feed summary about online grooming, and nothing more."
    arch.add(
        Article(
            title="Summary only", body=body, fingerprint=fingerprint(body), summary_only=True, source="Feed",
            published="2024-02-29", language="en", url="https://news.example/s", origin="feed.xml#3",
            scores=[TopicScore("prevention", 0.7, True), TopicScore("policy", 0.2, False)],
        )
    )  # fmt: skip
    return arch


def test_export_then_import_restores_every_record(tmp_path):
    original = filled_archive(tmp_path / "a")
    prevention = original.search(SearchQuery(topics=["prevention"])).total
    original.close()
    exported = run(tmp_path / "a", "export")
    assert exported.returncode == 0
    imported = run(tmp_path / "b", "import", "-", stdin=exported.stdout)
    assert imported.returncode == 0, imported.stderr
    assert b"3 added, 0 already present, 0 failed" in imported.stderr
    again = run(tmp_path / "b", "export")
    first = [json.loads(line) for line in exported.stdout.splitlines()]
    second = [json.loads(line) for line in again.stdout.splitlines()]
    assert len(first) == 3
    for a, b in zip(first, second, strict=True):  # record by record, every field
        assert a == b
    ceop = next(r for r in second if "CEOP" in r["title"])
    assert [c["action"] for c in ceop["corrections"]] == ["add", "remove"]
    assert "prevention" in ceop["topics"] and "policy" not in ceop["topics"]
    with Archive(tmp_path / "b") as restored:
        assert restored.check(repair=False).ok
        assert restored.search(SearchQuery(topics=["prevention"])).total == prevention


def test_import_skips_what_is_present_and_reports_bad_lines(tmp_path):
    filled_archive(tmp_path / "a").close()
    lines = run(tmp_path / "a", "export").stdout.splitlines()
    broken = b"\n".join([lines[0], b"{not json", b'{"title": "no id"}', b"[1, 2]", lines[1], b""])
    first = run(tmp_path / "b", "import", "-", stdin=broken)
    assert first.returncode == 1
    errors = first.stderr.decode().splitlines()
    assert [e.split(":")[2].strip() for e in errors if e.startswith("archive: error")] == ["line 2", "line 3", "line 4"]
    assert "Traceback" not in first.stderr.decode()
    assert "2 added, 0 already present, 3 failed" in errors[-1]
    second = run(tmp_path / "b", "import", "-", stdin=b"\n".join(lines))
    assert second.returncode == 0 and b"1 added, 2 already present" in second.stderr


def test_a_record_round_trips_through_the_serializer(tmp_path):
    arch = filled_archive(tmp_path / "a")
    for article in arch.articles():
        restored = article_from_record(json.loads(json.dumps(article_to_record(article))))
        assert restored == article
    arch.close()


def test_backup_copies_a_store_while_it_is_written(tmp_path):
    arch = Archive(tmp_path / "live")
    stop = threading.Event()
    written = []

    def keep_writing():
        n = 0
        while not stop.is_set() and n < 400:
            body = f"Report {n} on online grooming cases and police work."
            arch.add(Article(title=f"Report {n}", body=body, fingerprint=fingerprint(body)))
            written.append(n)
            n += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    while len(written) < 20:
        stop.wait(0.01)
    before = len(written)
    target = tmp_path / "copy.sqlite3"
    arch.store.backup(target)
    after = len(written)
    stop.set()
    writer.join()
    arch.close()
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        copied = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert before <= copied <= after + 1


def test_archive_backup_makes_a_usable_copy(tmp_path):
    arch = filled_archive(tmp_path / "a")
    arch.close()
    shipped = Path(__file__).resolve().parent.parent / "archive" / "taxonomy.toml"
    (tmp_path / "a" / "taxonomy.toml").write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    proc = run(tmp_path / "a", "backup", str(tmp_path / "backups"))
    assert proc.returncode == 0, proc.stderr
    copy = Path(proc.stdout.decode().strip())
    assert copy.parent == tmp_path / "backups" and (copy / "archive.sqlite3").is_file()
    assert (copy / "taxonomy.toml").is_file()
    assert b"backed up 3 articles" in proc.stderr
    with Archive(copy) as restored:
        assert restored.count() == 3
        assert restored.check(repair=False).ok  # its index was built from the copied store on opening
    assert not list((tmp_path / "backups").glob("*/secret_key"))  # keys and accounts' secrets stay behind


def test_backup_into_a_file_is_a_one_line_error(tmp_path):
    filled_archive(tmp_path / "a").close()
    (tmp_path / "file").write_text("x")
    proc = run(tmp_path / "a", "backup", str(tmp_path / "file"))
    assert proc.returncode != 0
    assert len(proc.stderr.decode().strip().splitlines()) == 1 and b"Traceback" not in proc.stderr

"""ingest.watch and `archive watch`: files dropped into a folder are ingested once settled, then moved to
done/ or failed/ with their reasons; a fake clock drives the waiting."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.errors import ArchiveError
from archive.models import SearchQuery
from archive.service import Archive
from ingest import watch as watch_module
from ingest.watch import Watcher, free_name, split_name
from tests.conftest import CEOP_SEED, HYMAS_SEED

ARCHIVE_BIN = str(Path(sys.executable).with_name("archive"))
T0 = 1_700_000_000.0  # the fake clock's start: files get this mtime, scans pass `now` from it
SETTLE = 2.0


def article_text(word: str) -> str:
    """A text file's content: a headline and enough distinct sentences to be an article of its own."""
    body = " ".join(
        f"The {word} report {i} says platforms must protect children from online grooming." for i in range(15)
    )
    return f"{word.title()} report on online grooming\n\n{body}\n"


def drop(folder: Path, name: str, data: str | bytes, mtime: float = T0) -> Path:
    """A file written into the watched folder with a chosen modification time."""
    path = folder / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def settled(watcher: Watcher) -> list:
    """One scan long after every file dropped at T0 stopped changing."""
    return watcher.scan_once(now=T0 + 60)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def watcher(archive: Archive, inbox: Path) -> Watcher:
    return Watcher(archive, inbox, settle=SETTLE)


def feed(*words: str) -> str:
    items = "".join(
        f"<item><title>{word.title()} news</title><link>https://news.example.org/{word}</link>"
        f"<description><![CDATA[{article_text(word)}]]></description></item>"
        for word in words
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title>{items}</channel></rss>'
    )


# -- when a file is ready ----------------------------------------------------------------------


def test_the_watcher_creates_done_and_failed(watcher: Watcher, inbox: Path) -> None:
    assert (inbox / "done").is_dir() and (inbox / "failed").is_dir()


def test_a_new_file_waits_until_it_has_been_still_for_the_settle_time(watcher: Watcher, inbox: Path) -> None:
    path = drop(inbox, "a.txt", article_text("alpha"))
    assert watcher.scan_once(now=T0 + 0.5) == []  # first look, mtime too recent
    assert watcher.scan_once(now=T0 + 0.5 + SETTLE - 0.1) == []
    assert path.exists()
    (result,) = watcher.scan_once(now=T0 + 0.5 + SETTLE)
    assert result.moved_to == inbox / "done" / "a.txt"
    assert not path.exists()


def test_a_file_first_seen_with_an_old_mtime_is_ready_at_once(watcher: Watcher, inbox: Path) -> None:
    drop(inbox, "a.txt", article_text("alpha"), mtime=T0 - SETTLE)
    (result,) = watcher.scan_once(now=T0)
    assert result.file == "a.txt" and result.added == 1


def test_a_half_written_file_is_not_ingested_until_it_stops_changing(
    watcher: Watcher, archive: Archive, inbox: Path
) -> None:
    text = article_text("alpha")
    half = len(text) // 2
    path = drop(inbox, "a.txt", text[:half])
    assert watcher.scan_once(now=T0 + 1) == []
    drop(inbox, "a.txt", text, mtime=T0 + 2)  # the writer goes on
    # Two looks far apart, but the file changed between them: even with an mtime long past, it waits one more.
    assert watcher.scan_once(now=T0 + 10) == []
    assert path.exists() and archive.count() == 0
    assert watcher.scan_once(now=T0 + 10 + SETTLE - 0.1) == []
    (result,) = watcher.scan_once(now=T0 + 10 + SETTLE)
    assert result.status == "done" and result.added == 1
    (article,) = archive.articles()
    assert "report 14 says" in article.body  # the whole file, not its first half


@pytest.mark.parametrize(
    "name",
    [".hidden.txt", "a.txt.part", "a.html.crdownload", "a.tmp", "a.partial", ".a.txt.swp", "a.txt~", "A.TXT.PART"],
)
def test_hidden_and_unfinished_files_are_left_alone(watcher: Watcher, archive: Archive, inbox: Path, name: str) -> None:
    path = drop(inbox, name, article_text("alpha"))
    assert settled(watcher) == []
    assert path.exists() and archive.count() == 0


def test_sub_folders_are_not_read(watcher: Watcher, archive: Archive, inbox: Path) -> None:
    (inbox / "incoming").mkdir()
    nested = drop(inbox / "incoming", "a.txt", article_text("alpha"))
    drop(inbox / "done", "old.txt", article_text("beta"))
    assert settled(watcher) == []
    assert nested.exists() and archive.count() == 0


# -- where files go ---------------------------------------------------------------------------


def test_a_good_file_is_added_and_moved_to_done(watcher: Watcher, archive: Archive, inbox: Path) -> None:
    shutil.copy(CEOP_SEED, inbox / "ceop.txt")
    os.utime(inbox / "ceop.txt", (T0, T0))
    (result,) = settled(watcher)
    assert (result.file, result.added, result.failed, result.errors) == ("ceop.txt", 1, 0, [])
    assert result.moved_to == inbox / "done" / "ceop.txt" and result.moved_to.is_file()
    assert not (inbox / "done" / "ceop.txt.reason.txt").exists()
    assert archive.search(SearchQuery(q="CEOP")).total == 1


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "is empty"),
        ("blank.md", b"  \n\n", "is empty"),
        ("image.html", bytes(range(256)) * 4, "binary"),
        ("short.txt", b"Too short to be news.\n", "too little text"),
        ("broken.jsonl", b'{"title": "x"\n', "not valid JSON"),
        ("empty-feed.rss", b'<rss version="2.0"><channel><title>News</title></channel></rss>', "no entries"),
        ("nothing.json", b"[]", "holds no article"),
    ],
)
def test_a_bad_file_goes_to_failed_with_its_reason(
    watcher: Watcher, archive: Archive, inbox: Path, name: str, data: bytes, reason: str
) -> None:
    drop(inbox, name, data)
    (result,) = settled(watcher)
    assert result.status == "failed" and result.moved_to == inbox / "failed" / name
    assert result.moved_to.read_bytes() == data
    lines = (inbox / "failed" / f"{name}.reason.txt").read_text().splitlines()
    assert lines == result.errors and len(lines) == 1
    assert reason in lines[0]
    assert archive.count() == 0


def test_a_bad_file_loses_nothing_already_in_the_archive(seeded_archive: Archive, inbox: Path) -> None:
    watcher = Watcher(seeded_archive, inbox, settle=SETTLE)
    drop(inbox, "bad.txt", b"\x00\x01\x02" * 100)
    drop(inbox, "good.txt", article_text("alpha"))
    results = settled(watcher)
    assert [(r.file, r.status) for r in results] == [("bad.txt", "failed"), ("good.txt", "done")]
    assert seeded_archive.count() == 3
    assert seeded_archive.search(SearchQuery(q="CEOP")).total == 1


def test_a_feed_gives_an_article_per_entry(watcher: Watcher, archive: Archive, inbox: Path) -> None:
    drop(inbox, "news.rss", feed("alpha", "beta", "gamma"))
    (result,) = settled(watcher)
    assert (result.added, result.failed, result.status) == (3, 0, "done")
    assert archive.count() == 3


def test_a_file_with_some_failed_articles_goes_to_done_with_a_reason_file(
    watcher: Watcher, archive: Archive, inbox: Path
) -> None:
    records = [{"title": "Alpha", "text": article_text("alpha")}, {"title": "Beta"}, {"text": article_text("beta")}]
    drop(inbox, "export.jsonl", "\n".join(json.dumps(r) for r in records) + "\nnot json\n")
    (result,) = settled(watcher)
    assert (result.added, result.failed, result.status) == (2, 2, "done")
    lines = (inbox / "done" / "export.jsonl.reason.txt").read_text().splitlines()
    assert len(lines) == 2 and lines == result.errors
    assert "export.jsonl:2" in lines[0] and "export.jsonl:4" in lines[1]
    assert archive.count() == 2


def test_a_file_met_again_is_a_duplicate_and_takes_a_free_name(watcher: Watcher, archive: Archive, inbox: Path) -> None:
    for mtime in (T0, T0 + 100):
        drop(inbox, "a.txt", article_text("alpha"), mtime=mtime)
        watcher.scan_once(now=mtime + 60)
    drop(inbox, "a.txt", article_text("alpha"), mtime=T0 + 200)
    (result,) = watcher.scan_once(now=T0 + 260)
    assert (result.duplicate, result.added) == (1, 0)
    assert result.moved_to == inbox / "done" / "a (3).txt"
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["a (2).txt", "a (3).txt", "a.txt"]
    assert archive.count() == 1


def test_a_failed_name_is_not_taken_by_another_files_reason(watcher: Watcher, inbox: Path) -> None:
    (inbox / "failed" / "b.txt.reason.txt").write_text("someone else's\n")
    drop(inbox, "b.txt", b"")
    (result,) = settled(watcher)
    assert result.moved_to == inbox / "failed" / "b (2).txt"
    assert (inbox / "failed" / "b.txt.reason.txt").read_text() == "someone else's\n"
    assert "is empty" in (inbox / "failed" / "b (2).txt.reason.txt").read_text()


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("a.html", ("a", ".html")),
        ("feed.xml.gz", ("feed", ".xml.gz")),
        ("U.S. news.txt", ("U.S. news", ".txt")),
        ("notes", ("notes", "")),
        ("archive.GZ", ("archive", ".GZ")),
    ],
)
def test_split_name_keeps_the_format_extension(name: str, parts: tuple[str, str]) -> None:
    assert split_name(name) == parts


def test_free_name_counts_up_past_taken_names(tmp_path: Path) -> None:
    for name in ("feed.xml.gz", "feed (2).xml.gz"):
        (tmp_path / name).touch()
    assert free_name(tmp_path, "feed.xml.gz") == tmp_path / "feed (3).xml.gz"
    assert free_name(tmp_path, "other.xml.gz") == tmp_path / "other.xml.gz"


# -- when something other than the file goes wrong ---------------------------------------------


def test_a_file_that_cannot_be_moved_is_not_ingested_again_until_it_changes(
    watcher: Watcher, inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = drop(inbox, "a.txt", article_text("alpha"))
    with monkeypatch.context() as patch:  # a destination whose folder is gone makes the move fail
        patch.setattr(watch_module, "free_name", lambda folder, name: folder / "gone" / name)
        (result,) = settled(watcher)
    assert result.status == "kept" and result.moved_to is None and result.added == 1
    assert "could not be moved to done/" in result.errors[0]
    assert watcher.scan_once(now=T0 + 120) == []  # held back: no duplicate every interval
    drop(inbox, "a.txt", article_text("beta"), mtime=T0 + 200)
    (again,) = watcher.scan_once(now=T0 + 260)
    assert again.added == 1 and again.moved_to == inbox / "done" / "a.txt" and not path.exists()


def test_an_archive_failure_leaves_the_file_to_be_tried_again(
    watcher: Watcher, archive: Archive, inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(article):
        raise RuntimeError("disk full")

    path = drop(inbox, "a.txt", article_text("alpha"))
    with monkeypatch.context() as patch:
        patch.setattr(archive, "add", broken)
        assert settled(watcher) == []
    assert path.exists() and archive.count() == 0
    (result,) = watcher.scan_once(now=T0 + 120)
    assert result.added == 1 and not path.exists()


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_folder_that_cannot_be_watched_is_one_archive_error(archive: Archive, tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "inbox"
    if kind == "file":
        folder.write_text("not a folder")
    with pytest.raises(ArchiveError, match="inbox (does not exist|is not a folder)"):
        Watcher(archive, folder)


def test_watch_ingests_until_stopped(archive: Archive, inbox: Path) -> None:
    import threading

    stop = threading.Event()
    seen: list[str] = []
    drop(inbox, "a.txt", article_text("alpha"), mtime=time.time() - 10)
    thread = threading.Thread(
        target=watch_module.watch, args=(archive, inbox, 0.05, SETTLE, stop, lambda r: seen.append(r.file))
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert seen == ["a.txt"]


# -- the command ------------------------------------------------------------------------------


def run(data: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([ARCHIVE_BIN, "--data", str(data), *args], capture_output=True, timeout=timeout)


def test_watch_once_json_reports_each_file_and_exits_1_when_one_failed(tmp_path: Path, inbox: Path) -> None:
    shutil.copy(HYMAS_SEED, inbox / "hymas.txt")
    drop(inbox, "empty.txt", b"", mtime=time.time() - 10)
    drop(inbox, "fresh.txt", article_text("alpha"), mtime=time.time() + 60)  # not settled: stays for a later run
    proc = run(tmp_path / "data", "watch", "--once", "--json", "--settle", "0", str(inbox))
    assert proc.returncode == 1, proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode()
    records = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r["file"] for r in records] == ["empty.txt", "hymas.txt"]
    assert set(records[0]) == {"file", "moved_to", "added", "updated", "duplicate", "failed", "errors"}
    assert records[0]["moved_to"] == str(inbox / "failed" / "empty.txt") and "is empty" in records[0]["errors"][0]
    assert (records[1]["added"], records[1]["errors"]) == (1, [])
    assert (inbox / "fresh.txt").exists()
    with Archive(tmp_path / "data") as arch:
        assert arch.count() == 1


def test_watch_once_prints_a_line_per_file_and_exits_0_when_all_went_in(tmp_path: Path, inbox: Path) -> None:
    drop(inbox, "a.txt", article_text("alpha"), mtime=time.time() - 10)
    proc = run(tmp_path / "data", "watch", "--once", str(inbox))
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == "done: a.txt (1 added)\n"


def test_watch_on_a_missing_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = run(tmp_path / "data", "watch", "--once", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and "nowhere does not exist" in err and "Traceback" not in err


def test_watch_ingests_while_running_and_stops_cleanly_on_sigterm(tmp_path: Path, inbox: Path) -> None:
    args = ["--data", str(tmp_path / "data"), "watch", "--interval", "0.1", "--settle", "0.2", str(inbox)]
    proc = subprocess.Popen([ARCHIVE_BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        drop(inbox, "a.txt", article_text("alpha"), mtime=time.time())
        deadline = time.monotonic() + 60
        while not (inbox / "done" / "a.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (inbox / "done" / "a.txt").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert out.decode() == "done: a.txt (1 added)\n"
    assert "Traceback" not in err.decode()

"""The SQLite store: schema and migrations, WAL, articles with scores, corrections kept apart."""

import sqlite3
import threading

import pytest

from archive.models import Article, Correction, Evidence, TopicScore
from archive.store import MIGRATIONS, Store


def make_article(n: int = 1, **changes) -> Article:
    values = dict(
        id=f"id{n:04d}",
        title=f"Title {n}",
        body=f"Body text number {n}.",
        fingerprint=f"fp{n}",
        ingested_at="2024-01-01T00:00:00+00:00",
        canonical_url=f"https://news.example/{n}",
        scores=[TopicScore("policy", 0.8, True, [Evidence("minister", 2)], "The minister spoke.")],
    )
    values.update(changes)
    return Article(**values)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "a.sqlite3")
    yield s
    s.close()


def test_new_store_is_at_the_latest_schema_version_in_wal_mode(store):
    assert store.schema_version() == len(MIGRATIONS)
    mode = store._connect().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_reopening_does_not_migrate_again(tmp_path):
    Store(tmp_path / "a.sqlite3").close()
    again = Store(tmp_path / "a.sqlite3")
    rows = again._connect().execute("SELECT count(*) FROM schema_version").fetchone()[0]
    assert rows == len(MIGRATIONS)
    again.close()


def test_a_store_newer_than_the_program_is_refused(tmp_path):
    path = tmp_path / "a.sqlite3"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (99)")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        Store(path)


def test_insert_and_get_round_trip_with_scores(store):
    store.insert(make_article(1, author="Jane Doe", published="2020-02-03", language="en"))
    got = store.get("id0001")
    assert (got.title, got.author, got.published, got.language) == ("Title 1", "Jane Doe", "2020-02-03", "en")
    assert got.scores == [TopicScore("policy", 0.8, True, [Evidence("minister", 2)], "The minister spoke.")]
    assert got.topics == ["policy"]


def test_duplicate_fingerprint_is_refused_and_nothing_changes(store):
    store.insert(make_article(1))
    with pytest.raises(sqlite3.IntegrityError):
        store.insert(make_article(2, fingerprint="fp1"))
    assert store.count() == 1
    assert store.get("id0002") is None


def test_failed_transaction_rolls_back(store):
    store.insert(make_article(1))
    with pytest.raises(ZeroDivisionError):
        with store.transaction() as conn:
            conn.execute("DELETE FROM articles")
            raise ZeroDivisionError
    assert store.count() == 1


def test_replace_keeps_corrections_and_updates_scores(store):
    store.insert(make_article(1))
    store.add_correction("id0001", Correction("prevention", "add", "editor", "2024-02-01T00:00:00+00:00"))
    store.replace(make_article(1, title="New title", fingerprint="fp1b", scores=[]))
    got = store.get("id0001")
    assert got.title == "New title"
    assert got.scores == []
    assert got.topics == ["prevention"]  # the person's correction survived


def test_corrections_win_over_machine_tags(store):
    store.insert(make_article(1))
    store.add_correction("id0001", Correction("policy", "remove", "editor", "2024-02-01T00:00:00+00:00"))
    store.add_correction("id0001", Correction("law_enforcement", "add", "editor", "2024-02-02T00:00:00+00:00"))
    assert store.get("id0001").topics == ["law_enforcement"]


def test_lookups_by_fingerprint_and_url(store):
    store.insert(make_article(3))
    assert store.find_by_fingerprint("fp3") == "id0003"
    assert store.find_by_url("https://news.example/3") == "id0003"
    assert store.find_by_fingerprint("nope") is None


def test_iter_articles_streams_every_article_in_batches(store):
    for n in range(25):
        store.insert(make_article(n))
    seen = [a.id for a in store.iter_articles(batch=7)]
    assert seen == sorted(f"id{n:04d}" for n in range(25))
    assert store.ids() == set(seen)


def test_delete_cascades_to_scores_and_corrections(store):
    store.insert(make_article(1))
    store.add_correction("id0001", Correction("policy", "remove", "editor", "2024-02-01T00:00:00+00:00"))
    assert store.delete("id0001")
    conn = store._connect()
    assert conn.execute("SELECT count(*) FROM topic_scores").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM topic_corrections").fetchone()[0] == 0
    assert not store.delete("id0001")


def test_threads_each_get_a_working_connection(store):
    errors = []

    def insert(n):
        try:
            store.insert(make_article(n))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=insert, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count() == 8


def logged(store: Store) -> list[tuple[str, str]]:
    return [tuple(r) for r in store._connect().execute("SELECT article_id, op FROM index_log ORDER BY seq")]


@pytest.mark.parametrize(
    "write, expected",
    [
        (lambda s: s.insert(make_article(2)), [("id0002", "insert")]),
        (lambda s: s.replace(make_article(1, title="New")), [("id0001", "replace")]),
        (lambda s: s.delete("id0001"), [("id0001", "delete")]),
        (lambda s: s.delete("nope"), []),  # nothing deleted, nothing for the index to do
        (lambda s: s.add_correction("id0001", Correction("prevention", "add", "ed", "2024")), [("id0001", "correct")]),
        (lambda s: s.replace_tags([make_article(1, scores=[])], changed=[]), []),  # topics unchanged
        (lambda s: s.replace_tags([make_article(1, scores=[])]), [("id0001", "retag")]),
        (lambda s: s.insert_new([make_article(1), make_article(3)]), [("id0003", "import")]),  # id0001 is stored
    ],
)
def test_every_write_the_index_must_follow_is_logged(store, write, expected):
    store.insert(make_article(1))
    before = logged(store)
    write(store)
    assert logged(store)[len(before) :] == expected


def test_a_write_that_fails_logs_nothing(store):
    with pytest.raises(sqlite3.IntegrityError):  # the article does not exist: the correction's key fails
        store.add_correction("nope", Correction("policy", "add", "ed", "2024"))
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction() as conn:
            conn.execute("INSERT INTO index_log (article_id, op) VALUES ('x', 'insert')")
            conn.execute("INSERT INTO articles (id) VALUES ('x')")  # no title: the transaction fails
    assert logged(store) == []


def test_insert_new_returns_the_seqs_of_its_log_entries(store):
    store.insert(make_article(1))
    added, seqs = store.insert_new([make_article(n) for n in range(1, 5)])
    assert [a.id for a in added] == ["id0002", "id0003", "id0004"]
    rows = store._connect().execute("SELECT seq, article_id FROM index_log WHERE op = 'import'").fetchall()
    assert [tuple(row) for row in rows] == list(zip(seqs, ["id0002", "id0003", "id0004"], strict=True))
    assert store.insert_new([make_article(1)])[0] == []  # all duplicates: nothing logged

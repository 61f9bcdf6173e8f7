"""The index log: positions that survive pruning, the changes after a position, a bulk import's own entries."""

import pytest

from archive.indexlog import IndexLog
from archive.store import Store
from tests.test_store import make_article


@pytest.fixture
def log(tmp_path):
    store = Store(tmp_path / "a.sqlite3")
    yield IndexLog(store)
    store.close()


def test_changes_after_a_position_name_each_article_once(log):
    assert log.position() == 0 and log.since(0).upto == 0
    log.store.insert(make_article(1))
    log.store.insert(make_article(2))
    log.store.replace(make_article(1, title="Changed"))
    log.store.delete("id0002")
    changes = log.since(0)
    assert (changes.upto, changes.entries, changes.ids) == (4, 4, ["id0001", "id0002"])
    assert changes.first == {"id0001": 1, "id0002": 2}
    assert log.since(2).ids == ["id0001", "id0002"] and log.since(4).ids == []
    assert set(log.get_many(changes.ids)) == {"id0001"}  # the deleted one is missing: delete it from the index


def test_pruning_keeps_the_position_and_what_is_not_applied(log):
    for n in range(5):
        log.store.insert(make_article(n))
    assert log.prune(3) == 3
    assert log.position() == 5
    assert log.since(0).ids == ["id0003", "id0004"]
    assert log.prune(5) == 2
    assert log.position() == 5  # AUTOINCREMENT: a pruned seq is never reused
    log.store.insert(make_article(9))
    assert log.since(5).first == {"id0009": 6}


def test_an_imports_own_entries_are_skipped_and_found(log):
    log.store.insert(make_article(1))  # 1: before the import, not applied
    _, first = log.store.insert_new([make_article(2), make_article(3)])  # 2, 3
    log.store.replace(make_article(3, title="Changed by another process"))  # 4
    _, second = log.store.insert_new([make_article(4)])  # 5
    log.store.insert(make_article(5))  # 6
    others = log.since(0, skip=[first, second])
    assert (others.upto, others.ids, others.entries) == (6, ["id0001", "id0003", "id0005"], 3)
    assert others.first["id0003"] == 4
    assert log.within(others.ids, [first, second]) == {"id0003"}
    assert log.within([], [first]) == set() and log.within(["id0001"], []) == set()

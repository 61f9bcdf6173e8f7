"""Accounts (users, API tokens, audit log) and the Archive's audited corrections and deletions."""

import hashlib
import sqlite3
from datetime import datetime

import pytest
from werkzeug.security import generate_password_hash

import archive.accounts as accounts_module
from archive.accounts import ROLES, Accounts, AuditEntry, User
from archive.errors import AccountError, ArticleNotFound, InvalidCorrection
from archive.models import Article, SearchQuery, TopicScore
from archive.service import Archive
from archive.store import MIGRATIONS, Store

PASSWORD = "correct horse battery"


def stored_bytes(archive: Archive) -> bytes:
    """Everything SQLite has on disk for this archive: the database file and its write-ahead log."""
    path = archive.store.path
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def add_article(archive: Archive, n: int, topic: str, **changes) -> str:
    values = dict(
        title=f"Story {n} about online safety",
        body=f"Body of story {n}: regulators, platforms and police talk about online safety.",
        fingerprint=f"fingerprint-{n}",
        scores=[TopicScore(topic, 0.8, True)],
    )
    values.update(changes)
    outcome = archive.add(Article(**values))
    assert outcome.status == "added"
    return outcome.id


def topic_total(archive: Archive, topic: str) -> int:
    return archive.search(SearchQuery(topics=[topic])).total


# -- users -------------------------------------------------------------------------------------


def test_passwords_are_scrypt_hashes_and_the_plaintext_is_never_stored(archive):
    archive.accounts.add_user("alice", PASSWORD, "editor")
    (stored,) = archive.store.connection().execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("scrypt:")
    assert PASSWORD not in stored
    assert PASSWORD.encode() not in stored_bytes(archive)


def test_authenticate_gives_the_user_for_the_right_password_only(archive):
    added = archive.accounts.add_user("alice", PASSWORD, "editor")
    assert added == User("alice", "editor", added.created_at) and added.is_editor
    assert archive.accounts.authenticate("alice", PASSWORD) == added
    assert archive.accounts.authenticate("alice", PASSWORD + "!") is None
    assert archive.accounts.authenticate("bob", PASSWORD) is None


def test_an_unknown_name_still_costs_one_password_check(archive, monkeypatch):
    checked = []
    real_check = accounts_module.check_password_hash
    monkeypatch.setattr(accounts_module, "check_password_hash", lambda h, p: checked.append(h) or real_check(h, p))
    assert archive.accounts.authenticate("nobody", PASSWORD) is None
    assert checked == [accounts_module._DUMMY_HASH]
    # The dummy costs what a real hash costs: same method and parameters.
    fresh = generate_password_hash(PASSWORD, method="scrypt")
    assert accounts_module._DUMMY_HASH.split("$")[0] == fresh.split("$")[0]


def test_names_are_unique_regardless_of_case(archive):
    archive.accounts.add_user("alice", PASSWORD, "reader")
    with pytest.raises(AccountError, match="already exists"):
        archive.accounts.add_user("Alice", PASSWORD, "editor")
    assert archive.accounts.get_user("ALICE") == User("alice", "reader", archive.accounts.users()[0].created_at)
    assert archive.accounts.authenticate("ALICE", PASSWORD).name == "alice"


@pytest.mark.parametrize(
    "name, password, role, message",
    [
        ("", PASSWORD, "reader", "1 to 64"),
        ("a" * 65, PASSWORD, "reader", "1 to 64"),
        ("has space", PASSWORD, "reader", "1 to 64"),
        ("semi;colon", PASSWORD, "reader", "1 to 64"),
        ("trailing\n", PASSWORD, "reader", "1 to 64"),
        ("alice", "nine char", "reader", "at least 10"),
        ("alice", "", "reader", "at least 10"),
        ("alice", PASSWORD, "admin", "role must be one of"),
        ("alice", PASSWORD, "Editor", "role must be one of"),
    ],
)
def test_bad_names_passwords_and_roles_are_refused(archive, name, password, role, message):
    with pytest.raises(AccountError, match=message):
        archive.accounts.add_user(name, password, role)
    assert archive.accounts.users() == []


@pytest.mark.parametrize("name", ["a", "a" * 64, "j.doe_2-x@news.example"])
def test_the_edges_of_the_rules_are_accepted(archive, name):
    archive.accounts.add_user(name, "ten chars!", ROLES[0])
    assert [u.name for u in archive.accounts.users()] == [name]


def test_users_are_listed_by_name_and_can_be_removed(archive):
    for name, role in [("carol", "reader"), ("alice", "editor"), ("bob", "reader")]:
        archive.accounts.add_user(name, PASSWORD, role)
    assert [(u.name, u.role, u.is_editor) for u in archive.accounts.users()] == [
        ("alice", "editor", True),
        ("bob", "reader", False),
        ("carol", "reader", False),
    ]
    archive.accounts.remove_user("bob")
    assert archive.accounts.get_user("bob") is None
    assert archive.accounts.authenticate("bob", PASSWORD) is None
    with pytest.raises(AccountError, match="No user is named 'bob'"):
        archive.accounts.remove_user("bob")


def test_set_password_replaces_the_old_one(archive):
    archive.accounts.add_user("alice", PASSWORD, "reader")
    archive.accounts.set_password("alice", "a brand new secret")
    assert archive.accounts.authenticate("alice", PASSWORD) is None
    assert archive.accounts.authenticate("alice", "a brand new secret").name == "alice"
    with pytest.raises(AccountError, match="at least 10"):
        archive.accounts.set_password("alice", "short")
    with pytest.raises(AccountError, match="No user"):
        archive.accounts.set_password("nobody", "a brand new secret")


# -- API tokens --------------------------------------------------------------------------------


def test_a_token_is_stored_only_as_its_digest(archive):
    token = archive.accounts.create_token("ingest-bot")
    assert len(token) >= 43
    row = archive.store.connection().execute("SELECT * FROM api_tokens").fetchone()
    assert row["digest"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in tuple(row)
    assert token.encode() not in stored_bytes(archive)


def test_token_name_finds_live_tokens_and_notes_their_use(archive):
    token = archive.accounts.create_token("ingest-bot")
    other = archive.accounts.create_token("reporting")
    assert token != other
    assert [t.last_used_at for t in archive.accounts.tokens()] == [None, None]
    assert archive.accounts.token_name(token) == "ingest-bot"
    assert archive.accounts.token_name(other) == "reporting"
    (bot, _) = archive.accounts.tokens()
    assert bot.name == "ingest-bot" and bot.last_used_at is not None
    for wrong in ["", token[:-1], token + "x", hashlib.sha256(token.encode()).hexdigest()]:
        assert archive.accounts.token_name(wrong) is None


def test_revoked_tokens_stop_working(archive):
    token = archive.accounts.create_token("ingest-bot")
    archive.accounts.revoke_token("ingest-bot")
    assert archive.accounts.token_name(token) is None
    assert archive.accounts.tokens() == []
    with pytest.raises(AccountError, match="No token is named"):
        archive.accounts.revoke_token("ingest-bot")


def test_token_names_are_unique_and_follow_the_name_rule(archive):
    archive.accounts.create_token("ingest-bot")
    with pytest.raises(AccountError, match="already exists"):
        archive.accounts.create_token("ingest-bot")
    with pytest.raises(AccountError, match="token name"):
        archive.accounts.create_token("two words")
    assert [t.name for t in archive.accounts.tokens()] == ["ingest-bot"]


# -- audit log ---------------------------------------------------------------------------------


def test_audit_entries_come_newest_first_with_a_utc_time(archive):
    archive.accounts.record("alice", "sign-in", "alice")
    archive.accounts.record("alice", "ingest", "https://news.example/1", "added")
    archive.accounts.record("bob", "sign-in", "bob")
    log = archive.accounts.audit_log()
    assert [(e.user, e.action, e.target, e.detail) for e in log] == [
        ("bob", "sign-in", "bob", ""),
        ("alice", "ingest", "https://news.example/1", "added"),
        ("alice", "sign-in", "alice", ""),
    ]
    assert all(isinstance(e, AuditEntry) for e in log)
    assert datetime.fromisoformat(log[0].at).utcoffset().total_seconds() == 0
    assert [e.user for e in archive.accounts.audit_log(limit=1)] == ["bob"]


# -- corrections and deletions -----------------------------------------------------------------


def test_a_correction_adds_a_topic_in_the_article_and_in_search_at_once(archive):
    article_id = add_article(archive, 1, "policy")
    add_article(archive, 2, "law_enforcement")
    assert topic_total(archive, "prevention") == 0

    corrected = archive.correct(article_id, "prevention", "add", "alice")

    assert corrected.topics == ["policy", "prevention"]
    assert archive.get(article_id).topics == ["policy", "prevention"]
    assert topic_total(archive, "prevention") == 1
    assert archive.search(SearchQuery()).facets["topic"]["prevention"] == 1
    (entry,) = archive.accounts.audit_log()
    assert (entry.user, entry.action, entry.target, entry.detail) == ("alice", "correct", article_id, "add prevention")


def test_a_removal_correction_takes_away_a_machine_topic(archive):
    article_id = add_article(archive, 1, "policy")
    add_article(archive, 2, "policy")
    assert topic_total(archive, "policy") == 2
    assert archive.correct(article_id, "policy", "remove", "alice").topics == []
    assert topic_total(archive, "policy") == 1
    hits = {hit.id: hit.topics for hit in archive.search(SearchQuery()).hits}
    assert hits[article_id] == [] and list(hits.values()).count(["policy"]) == 1


def test_corrections_survive_reindex_and_reopening(archive, data_dir):
    added_to = add_article(archive, 1, "policy")
    removed_from = add_article(archive, 2, "law_enforcement")
    archive.correct(added_to, "platform_moderation", "add", "alice")
    archive.correct(removed_from, "law_enforcement", "remove", "alice")
    assert archive.reindex() == 2
    assert topic_total(archive, "platform_moderation") == 1
    assert topic_total(archive, "law_enforcement") == 0
    archive.close()
    with Archive(data_dir) as reopened:
        assert reopened.get(added_to).topics == ["policy", "platform_moderation"]
        assert topic_total(reopened, "platform_moderation") == 1


@pytest.mark.parametrize(
    "topic, action, user, message",
    [
        ("weather", "add", "alice", "not a topic"),
        ("Policy", "add", "alice", "not a topic"),
        ("policy", "toggle", "alice", "adds or removes"),
        ("policy", "add", "", "needs the name"),
    ],
)
def test_a_correction_with_an_unknown_topic_or_action_is_refused(archive, topic, action, user, message):
    article_id = add_article(archive, 1, "law_enforcement")
    with pytest.raises(InvalidCorrection, match=message):
        archive.correct(article_id, topic, action, user)
    assert archive.get(article_id).corrections == []
    assert archive.accounts.audit_log() == []


def test_correcting_or_deleting_an_unknown_article_is_not_found(archive):
    with pytest.raises(ArticleNotFound):
        archive.correct("nope", "policy", "add", "alice")
    with pytest.raises(ArticleNotFound):
        archive.delete("nope", "alice")
    assert archive.accounts.audit_log() == []


def test_delete_removes_the_article_from_store_and_search_and_is_audited(archive):
    doomed = add_article(archive, 1, "policy")
    kept = add_article(archive, 2, "policy")
    archive.correct(doomed, "prevention", "add", "alice")
    archive.delete(doomed, "bob")
    with pytest.raises(ArticleNotFound):
        archive.get(doomed)
    assert [h.id for h in archive.search(SearchQuery(q="online safety")).hits] == [kept]
    assert topic_total(archive, "prevention") == 0
    assert archive.check(repair=False).ok
    latest = archive.accounts.audit_log()[0]
    assert (latest.user, latest.action, latest.target, latest.detail) == (
        "bob",
        "delete",
        doomed,
        "Story 1 about online safety",
    )


# -- schema ------------------------------------------------------------------------------------


def test_a_store_from_before_accounts_is_migrated_and_keeps_its_articles(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, step in enumerate(MIGRATIONS[:2], start=1):
        conn.executescript(step)
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    conn.execute(
        "INSERT INTO articles (id, title, ingested_at, body, fingerprint) VALUES (?, ?, ?, ?, ?)",
        ("old1", "Old", "2020-01-01T00:00:00+00:00", "Old body.", "old-fingerprint"),
    )
    conn.commit()
    conn.close()

    store = Store(path)
    try:
        assert store.schema_version() == len(MIGRATIONS) > 2
        assert store.get("old1").title == "Old"
        accounts = Accounts(store)
        accounts.add_user("alice", PASSWORD, "editor")
        assert accounts.authenticate("alice", PASSWORD).is_editor
        assert accounts.token_name(accounts.create_token("bot")) == "bot"
    finally:
        store.close()

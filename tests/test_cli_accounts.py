"""`archive user` and `archive token` end to end, in a subprocess, checked through Accounts."""

import json
from pathlib import Path

import pytest

from archive.service import Archive
from tests.test_cli import assert_one_clear_line, json_lines, run

PASSWORD = "correct horse battery"


@pytest.fixture
def data(tmp_path) -> Path:
    """An archive holding the reader alice and the API token ingest-bot."""
    path = tmp_path / "data"
    with Archive(path) as arch:
        arch.accounts.add_user("alice", PASSWORD, "reader")
        arch.accounts.create_token("ingest-bot")
    return path


def one_line_error(proc, code: int) -> str:
    err = assert_one_clear_line(proc, code)
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("archive: error: ")
    return err


def test_user_add_reads_the_password_from_stdin(data):
    proc = run(data, "user", "add", "bob", "--role", "editor", stdin=f"{PASSWORD}\nignored\n".encode())
    assert proc.returncode == 0, proc.stderr.decode()
    with Archive(data) as arch:
        bob = arch.accounts.authenticate("bob", PASSWORD)
        assert bob is not None and bob.is_editor
        assert arch.accounts.authenticate("bob", "ignored") is None


def test_user_list_as_text_and_json(data):
    assert run(data, "user", "add", "bob", "--role", "editor", stdin=PASSWORD.encode()).returncode == 0
    records = json_lines(run(data, "user", "list", "--json"))
    assert [(r["name"], r["role"]) for r in records] == [("alice", "reader"), ("bob", "editor")]
    assert set(records[0]) == {"name", "role", "created_at"}
    text = run(data, "user", "list").stdout.decode()
    assert "alice" in text and "bob" in text and "editor" in text
    assert PASSWORD not in text and "scrypt" not in text


def test_user_passwd_and_remove(data):
    proc = run(data, "user", "passwd", "alice", stdin=b"a brand new secret\n")
    assert proc.returncode == 0, proc.stderr.decode()
    with Archive(data) as arch:
        assert arch.accounts.authenticate("alice", PASSWORD) is None
        assert arch.accounts.authenticate("alice", "a brand new secret") is not None
    assert run(data, "user", "remove", "alice").returncode == 0
    with Archive(data) as arch:
        assert arch.accounts.get_user("alice") is None


def test_ensure_editor_creates_one_editor_once_then_is_silent(tmp_path):
    data = tmp_path / "data"
    first = run(data, "user", "ensure-editor")
    assert first.returncode == 0, first.stderr.decode()
    lines = first.stdout.decode().splitlines()
    assert "shown this once" in lines[0] and "user passwd editor" in first.stdout.decode()
    fields = dict(line.split(":", 1) for line in lines[-2:])
    name, password = fields["name"].strip(), fields["password"].strip()
    assert name == "editor" and len(password) >= 16
    with Archive(data) as arch:
        assert arch.accounts.authenticate(name, password).is_editor

    again = run(data, "user", "ensure-editor")
    assert again.returncode == 0 and again.stdout == b""
    assert len(again.stderr.decode().strip().splitlines()) == 1
    with Archive(data) as arch:
        assert [u.name for u in arch.accounts.users()] == ["editor"]


def test_ensure_editor_does_not_take_over_a_reader_called_editor(tmp_path):
    data = tmp_path / "data"
    with Archive(data) as arch:
        arch.accounts.add_user("editor", PASSWORD, "reader")
    proc = run(data, "user", "ensure-editor")
    assert proc.returncode == 0, proc.stderr.decode()
    with Archive(data) as arch:
        assert [(u.name, u.role) for u in arch.accounts.users()] == [("editor", "reader"), ("editor-2", "editor")]
        assert arch.accounts.authenticate("editor", PASSWORD) is not None


def test_token_create_prints_the_token_alone_on_the_last_line(data):
    proc = run(data, "token", "create", "reporting")
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert "shown this once" in lines[-2]
    token = lines[-1]
    assert token == token.strip() and " " not in token and len(token) >= 43
    with Archive(data) as arch:
        assert arch.accounts.token_name(token) == "reporting"
    records = json_lines(run(data, "token", "list", "--json"))
    assert [r["name"] for r in records] == ["ingest-bot", "reporting"]
    assert records[1]["last_used_at"] is not None
    assert token not in json.dumps(records)

    assert run(data, "token", "revoke", "reporting").returncode == 0
    with Archive(data) as arch:
        assert arch.accounts.token_name(token) is None
    assert "reporting" not in run(data, "token", "list").stdout.decode()


@pytest.mark.parametrize(
    "args, stdin, code, message",
    [
        (["user", "add", "bob", "--role", "admin"], PASSWORD, 2, "role must be one of"),
        (["user", "add", "two words"], PASSWORD, 2, "1 to 64"),
        (["user", "add", "alice"], PASSWORD, 1, "already exists"),
        (["user", "add", "ALICE", "--role", "editor"], PASSWORD, 1, "already exists"),
        (["user", "add", "bob"], "short", 1, "at least 10"),
        (["user", "add", "bob"], "", 1, "no password"),
        (["user", "passwd", "nobody"], PASSWORD, 1, "No user is named"),
        (["user", "passwd", "alice"], "", 1, "no password"),
        (["user", "remove", "nobody"], "", 1, "No user is named"),
        (["token", "create", "ingest-bot"], "", 1, "already exists"),
        (["token", "create", "a/b"], "", 2, "1 to 64"),
        (["token", "revoke", "nothing"], "", 1, "No token is named"),
    ],
)
def test_mistakes_give_one_clear_line_and_change_nothing(data, args, stdin, code, message):
    err = one_line_error(run(data, *args, stdin=stdin.encode()), code)
    assert message in err
    with Archive(data) as arch:
        assert [(u.name, u.role) for u in arch.accounts.users()] == [("alice", "reader")]
        assert arch.accounts.authenticate("alice", PASSWORD) is not None
        assert [t.name for t in arch.accounts.tokens()] == ["ingest-bot"]

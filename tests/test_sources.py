"""ingest.sources: expanding what the user named into inputs, and reading each one's bytes."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import pytest

from archive.config import load_config
from archive.errors import ExtractionError
from ingest.sources import SourceRef, expand_sources, is_url, read_source, sniff_kind


def write(path: Path, text: str = "text") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path):
    return load_config(tmp_path / "data")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder of articles with the usual clutter around them."""
    root = tmp_path / "articles"
    for name in [
        "b-second.txt",
        "a-first.html",
        "2021/03/c-nested.htm",
        "2021/d-deeper.TXT",
        "z/y/x-deepest.xhtml",
        "license-plate-cameras.txt",  # an article whose name only starts like LICENSE
        "readmission.text",
        "notes.md",
        "feeds/news.rss",
        "bulk/export.jsonl",
        # not articles:
        "README.md",
        "README.txt",
        "LICENSE",
        "licence.txt",
        "CHANGELOG.html",
        "data.json",
        "photo.png",
        "sitemap.xml",  # .xml and .json are read only when named directly
        ".hidden.txt",
        ".git/HEAD.txt",
        "2021/.cache/cached.html",
    ]:
        write(root / name)
    return root


def test_expand_sources_walks_folders_recursively_in_name_order(tree: Path) -> None:
    refs, skipped = expand_sources([str(tree)])
    assert [ref.path.relative_to(tree).as_posix() for ref in refs] == [
        "2021/03/c-nested.htm",
        "2021/d-deeper.TXT",
        "a-first.html",
        "b-second.txt",
        "bulk/export.jsonl",
        "feeds/news.rss",
        "license-plate-cameras.txt",
        "notes.md",
        "readmission.text",
        "z/y/x-deepest.xhtml",
    ]
    assert skipped == 11
    assert all(ref.origin == str(ref.path) and ref.url is None for ref in refs)


def test_expand_sources_keeps_the_order_of_the_specs(tmp_path: Path) -> None:
    b = write(tmp_path / "b.txt")
    a = write(tmp_path / "a.txt")
    refs, skipped = expand_sources([str(b), str(a)])
    assert [ref.path for ref in refs] == [b, a]
    assert skipped == 0


def test_a_file_named_directly_is_kept_whatever_its_suffix(tmp_path: Path) -> None:
    # Skipping applies to what a folder holds; a file the user names is read (and may fail clearly).
    readme = write(tmp_path / "README.md")
    refs, skipped = expand_sources([str(readme)])
    assert refs == [SourceRef(origin=str(readme), path=readme)]
    assert skipped == 0


def test_missing_path_stays_in_the_list_and_fails_when_read(tmp_path: Path, config) -> None:
    good = write(tmp_path / "good.txt")
    missing = tmp_path / "nope" / "missing.txt"
    refs, _ = expand_sources([str(good), str(missing)])
    assert [ref.origin for ref in refs] == [str(good), str(missing)]
    with pytest.raises(ExtractionError, match=r"missing\.txt does not exist\.$"):
        read_source(refs[1], config)


def test_empty_folder_gives_no_inputs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert expand_sources([str(tmp_path / "empty")]) == ([], 0)


def test_urls_and_stdin_pass_through(tmp_path: Path) -> None:
    refs, skipped = expand_sources(["https://example.org/a", "-", "HTTP://EXAMPLE.ORG/B"])
    assert refs == [
        SourceRef(origin="https://example.org/a", url="https://example.org/a"),
        SourceRef(origin="-"),
        SourceRef(origin="HTTP://EXAMPLE.ORG/B", url="HTTP://EXAMPLE.ORG/B"),
    ]
    assert skipped == 0


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("http://example.org", True),
        ("https://example.org/x", True),
        ("HTTPS://example.org", True),
        ("ftp://example.org", False),
        ("example.org", False),
        ("./http-notes.txt", False),
        ("-", False),
    ],
)
def test_is_url(spec: str, expected: bool) -> None:
    assert is_url(spec) is expected


def test_read_source_reads_a_file(tmp_path: Path, config) -> None:
    path = tmp_path / "a.html"
    path.write_bytes(b"<p>hello</p>")
    raw = read_source(SourceRef(origin=str(path), path=path), config)
    assert (raw.origin, raw.data, raw.kind, raw.url) == (str(path), b"<p>hello</p>", "html", None)


def test_read_source_refuses_a_folder(tmp_path: Path, config) -> None:
    with pytest.raises(ExtractionError, match="is a folder"):
        read_source(SourceRef(origin=str(tmp_path), path=tmp_path), config)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (PermissionError(13, "Permission denied"), "permission denied"),
        (OSError(5, "Input/output error"), "Input/output error"),
    ],
)
def test_read_source_reports_unreadable_files(
    tmp_path: Path, config, monkeypatch: pytest.MonkeyPatch, error: OSError, reason: str
) -> None:
    # Simulated: tests may run as root, for whom file permissions never bind.
    path = write(tmp_path / "secret.txt")

    def refuse(self: Path) -> bytes:
        raise error

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ExtractionError) as info:
        read_source(SourceRef(origin=str(path), path=path), config)
    assert str(info.value) == f"{path} cannot be read ({reason})."


@pytest.mark.parametrize(("size", "ok"), [(99, True), (100, True), (101, False), (5000, False)])
def test_size_limit_for_files(tmp_path: Path, size: int, ok: bool) -> None:
    config = load_config(tmp_path / "data", {"max_input_bytes": 100})
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * size)
    ref = SourceRef(origin=str(path), path=path)
    if ok:
        assert len(read_source(ref, config).data) == size
    else:
        with pytest.raises(ExtractionError, match=r"big\.txt is larger than the 100-byte limit for one input\.$"):
            read_source(ref, config)


class FakeStdin:
    """Stands in for sys.stdin: the source reads bytes from `.buffer`."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_read_source_reads_stdin(monkeypatch: pytest.MonkeyPatch, config) -> None:
    monkeypatch.setattr(sys, "stdin", FakeStdin(b"<!doctype html><p>piped</p>"))
    raw = read_source(SourceRef(origin="-"), config)
    assert (raw.origin, raw.data, raw.kind, raw.url) == ("-", b"<!doctype html><p>piped</p>", "html", None)


def test_read_source_sniffs_plain_text_on_stdin(monkeypatch: pytest.MonkeyPatch, config) -> None:
    monkeypatch.setattr(sys, "stdin", FakeStdin(b"Headline\n\nBody text."))
    assert read_source(SourceRef(origin="-"), config).kind == "text"


@pytest.mark.parametrize(("size", "ok"), [(100, True), (101, False)])
def test_size_limit_for_stdin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, size: int, ok: bool) -> None:
    config = load_config(tmp_path / "data", {"max_input_bytes": 100})
    monkeypatch.setattr(sys, "stdin", FakeStdin(b"y" * size))
    if ok:
        assert read_source(SourceRef(origin="-"), config).data == b"y" * size
    else:
        with pytest.raises(ExtractionError, match=r"^standard input is larger than the 100-byte limit"):
            read_source(SourceRef(origin="-"), config)


@pytest.mark.parametrize(
    ("data", "hint", "kind"),
    [
        pytest.param(b"plain words", ".html", "html", id="html suffix wins"),
        pytest.param(b"plain words", ".HTM", "html", id="suffix case ignored"),
        pytest.param(b"<html><body>x</body></html>", ".txt", "text", id="txt suffix wins"),
        pytest.param(b"plain", "text/html; charset=utf-8", "html", id="html content type"),
        pytest.param(b"plain", "application/xhtml+xml", "html", id="xhtml content type"),
        pytest.param(b"<html>", "text/plain; charset=utf-8", "text", id="text content type"),
        pytest.param(b"<!DOCTYPE html><html>", None, "html", id="doctype"),
        pytest.param(b"  \r\n<!doctype HTML>", None, "html", id="doctype after whitespace"),
        pytest.param(b"\xef\xbb\xbf<html lang='en'>", None, "html", id="html tag after BOM"),
        pytest.param(b"<?xml version='1.0'?><html>", None, "html", id="xhtml declaration"),
        pytest.param(b"<div>fragment</div><body><p>x</p></body>", None, "html", id="body tag"),
        pytest.param(b"<meta charset=utf-8><head><title>t</title></head>", None, "html", id="head tag"),
        pytest.param(b"Headline\n\nBy Jane Doe\n\nBody", None, "text", id="plain text"),
        pytest.param(b"Use 3 < 4 and 5 > 2 in maths.", None, "text", id="angle brackets in text"),
        pytest.param(b"<!DOCTYPE html>", ".docx", "html", id="unknown suffix falls back to content"),
        pytest.param(b"Just words", "application/octet-stream", "text", id="unknown type falls back to content"),
        pytest.param(b"# Title", ".md", "markdown", id="markdown suffix"),
        pytest.param(b"x", "text/markdown", "markdown", id="markdown content type"),
        pytest.param(b"x", ".rss", "feed", id="rss suffix"),
        pytest.param(b"x", "application/atom+xml", "feed", id="atom content type"),
        pytest.param(b"<?xml version='1.0'?>\n<rss version='2.0'>", None, "feed", id="rss after declaration"),
        pytest.param(b"<feed xmlns='http://www.w3.org/2005/Atom'>", None, "feed", id="atom root"),
        pytest.param(b"<rdf:RDF xmlns:rdf='x'>", None, "feed", id="rdf root"),
        pytest.param(b"x", ".jsonl", "records", id="json lines suffix"),
        pytest.param(b"x", "application/json", "records", id="json content type"),
        pytest.param(b'[{"text": "x"}]', None, "records", id="json array"),
    ],
)
def test_sniff_kind(data: bytes, hint: str | None, kind: str) -> None:
    assert sniff_kind(data, hint) == kind


def test_gzip_input_is_decompressed_and_sniffed_by_its_inner_suffix(tmp_path: Path, config) -> None:
    path = tmp_path / "news.rss.gz"
    path.write_bytes(gzip.compress(b"<rss version='2.0'><channel></channel></rss>"))
    raw = read_source(SourceRef(origin=str(path), path=path), config)
    assert (raw.kind, raw.data[:4]) == ("feed", b"<rss")


def test_gzip_that_inflates_past_the_limit_is_refused(tmp_path: Path) -> None:
    config = load_config(tmp_path / "data", {"max_input_bytes": 10_000})
    path = tmp_path / "bomb.txt"
    path.write_bytes(gzip.compress(b"a" * 1_000_000))  # about 1 kB on disk
    with pytest.raises(ExtractionError, match="decompresses to more than the 10,000-byte limit"):
        read_source(SourceRef(origin=str(path), path=path), config)


def test_damaged_gzip_is_refused(tmp_path: Path, config) -> None:
    path = tmp_path / "broken.txt"
    path.write_bytes(gzip.compress(b"some words here")[:12] + b"garbage!")
    with pytest.raises(ExtractionError, match="damaged gzip file"):
        read_source(SourceRef(origin=str(path), path=path), config)

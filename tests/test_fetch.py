"""ingest.fetch: HTTP fetching that refuses private addresses, at every redirect; no network is used.

Pages come from local servers on loopback addresses. Fetching them at all needs allow_private=True;
to test the re-check at a redirect honestly, one loopback address is declared "public" for the test
and the redirect leads to another, which must be refused before any request reaches it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

import ingest.fetch
from archive.config import load_config
from archive.errors import FetchError
from archive.service import Archive
from ingest.fetch import MAX_REDIRECTS, fetch, is_public_address
from ingest.pipeline import ingest_sources
from ingest.sources import SourceRef, read_source

ARTICLE_HTML = b"""<!DOCTYPE html><html lang="en"><head><title>Police warn of rise in grooming | Example News</title>
</head><body><article><h1>Police warn of rise in grooming</h1>
<p>Police forces across England and Wales recorded a sharp rise in online grooming offences last year,
according to figures obtained by a children's charity through freedom of information requests.</p>
<p>The charity said social media platforms must do more to detect adults who contact children, and called on
ministers to strengthen the law before it returns to Parliament in the spring.</p></article></body></html>"""
PLAIN_TEXT = b"Plain words served as text/plain."


@dataclass
class Server:
    host: str
    port: int
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"


def make_handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

        def send(self, status: int, body: bytes = b"", content_type: str = "text/html; charset=utf-8", **headers):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            server.requests.append((self.path, dict(self.headers.items())))
            if parts.path == "/article":
                self.send(200, ARTICLE_HTML)
            elif parts.path == "/plain":
                self.send(200, PLAIN_TEXT, content_type="text/plain; charset=utf-8")
            elif parts.path == "/redirect":
                self.send(int(query.get("status", "302")), Location=query["to"])
            elif parts.path == "/hops":
                left = int(query["n"])
                self.send(302, Location=f"/hops?n={left - 1}" if left else "/article")
            elif parts.path == "/big":
                self.send(200, b"x" * int(query["size"]), content_type="text/plain")
            elif parts.path == "/slow":
                server.release.wait(10)
                self.send(200, PLAIN_TEXT)
            else:
                self.send(404, b"not here")

    return Handler


@pytest.fixture
def serve() -> Iterator:
    """Start an HTTP server on a loopback address; all are stopped after the test."""
    started: list[tuple[ThreadingHTTPServer, threading.Thread, Server]] = []

    def start(host: str = "127.0.0.1") -> Server:
        info = Server(host, 0)
        httpd = ThreadingHTTPServer((host, 0), make_handler(info))
        httpd.daemon_threads = True
        info.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        started.append((httpd, thread, info))
        return info

    yield start
    for httpd, thread, info in started:
        info.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def server(serve) -> Server:
    return serve()


def get(url: str, *, allow_private: bool = True, max_bytes: int = 1_000_000, timeout: float = 5.0):
    return fetch(url, timeout=timeout, max_bytes=max_bytes, allow_private=allow_private, user_agent="test-agent/1")


# -- which addresses are public ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),  # loopback
        ("127.8.9.10", False),
        ("10.0.0.1", False),  # private
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # link-local: cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),  # multicast
        ("::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:10.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),  # scoped link-local
        ("fc00::1", False),  # unique local
        ("ff02::1", False),
        ("::", False),
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("::ffff:8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


# -- fetching ------------------------------------------------------------------------------------------------


def test_fetch_returns_the_page_and_its_content_type(server: Server) -> None:
    page = get(server.url("/article"))
    assert page.data == ARTICLE_HTML
    assert page.content_type == "text/html; charset=utf-8"
    assert page.url == server.url("/article")
    path, headers = server.requests[-1]
    assert path == "/article"
    assert headers["User-Agent"] == "test-agent/1"


def test_fetch_sends_the_query_string(server: Server) -> None:
    get(server.url("/plain?a=1&b=two"))
    assert server.requests[-1][0] == "/plain?a=1&b=two"


def test_fetch_refuses_loopback_unless_allowed(server: Server) -> None:
    with pytest.raises(FetchError, match=r"127\.0\.0\.1 is a private or local address; fetching it is not allowed"):
        get(server.url("/article"), allow_private=False)
    assert server.requests == []  # refused before a request was sent


def test_fetch_checks_the_address_connected_to_not_the_name(server: Server) -> None:
    # "localhost" is a name; what it resolves to is what counts.
    with pytest.raises(FetchError, match=r"^localhost resolves to .*not allowed\.$"):
        get(f"http://localhost:{server.port}/article", allow_private=False)
    assert server.requests == []


def test_https_is_guarded_before_the_tls_handshake(server: Server) -> None:
    with pytest.raises(FetchError, match="private or local address"):
        get(f"https://127.0.0.1:{server.port}/article", allow_private=False)
    assert server.requests == []


def test_https_to_a_plain_http_server_fails_clearly(server: Server) -> None:
    with pytest.raises(FetchError, match=r"could not be fetched: .+\.$"):
        get(f"https://127.0.0.1:{server.port}/article", allow_private=True)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_fetch_follows_redirects(server: Server, status: int) -> None:
    page = get(server.url(f"/redirect?status={status}&to=/article"))
    assert page.data == ARTICLE_HTML
    assert page.url == server.url("/article")


def test_fetch_follows_a_redirect_to_another_server(serve) -> None:
    first, second = serve(), serve()
    page = get(first.url(f"/redirect?to={second.url('/plain')}"))
    assert page.data == PLAIN_TEXT
    assert page.url == second.url("/plain")
    assert [p for p, _ in second.requests] == ["/plain"]


def test_redirect_to_a_private_address_is_refused(serve, monkeypatch: pytest.MonkeyPatch) -> None:
    public, private = serve("127.0.0.1"), serve("127.0.0.2")
    # For this test 127.0.0.1 plays a public host; every other address stays private.
    monkeypatch.setattr(ingest.fetch, "is_public_address", lambda address: address == "127.0.0.1")

    # The stand-in is honest: the "public" host serves, the private one is refused.
    assert get(public.url("/article"), allow_private=False).data == ARTICLE_HTML
    with pytest.raises(FetchError, match="not allowed"):
        get(private.url("/article"), allow_private=False)

    with pytest.raises(FetchError, match=r"127\.0\.0\.2 is a private or local address"):
        get(public.url(f"/redirect?to={private.url('/article')}"), allow_private=False)
    assert [p for p, _ in public.requests][-1].startswith("/redirect")
    assert private.requests == []  # the redirect target never received a request


def test_a_redirect_staying_on_the_allowed_host_is_followed(serve, monkeypatch: pytest.MonkeyPatch) -> None:
    public = serve("127.0.0.1")
    monkeypatch.setattr(ingest.fetch, "is_public_address", lambda address: address == "127.0.0.1")
    page = get(public.url("/redirect?to=/article"), allow_private=False)
    assert page.data == ARTICLE_HTML


def test_redirect_to_another_scheme_is_refused(server: Server) -> None:
    with pytest.raises(FetchError, match=r"^file:///etc/passwd is not an http\(s\) URL\.$"):
        get(server.url("/redirect?to=file:///etc/passwd"))


def test_five_redirects_are_followed(server: Server) -> None:
    page = get(server.url(f"/hops?n={MAX_REDIRECTS - 1}"))
    assert page.data == ARTICLE_HTML
    assert len(server.requests) == MAX_REDIRECTS + 1


def test_too_many_redirects_fail(server: Server) -> None:
    with pytest.raises(FetchError, match=rf"redirected more than {MAX_REDIRECTS} times\.$"):
        get(server.url(f"/hops?n={MAX_REDIRECTS}"))
    assert len(server.requests) == MAX_REDIRECTS + 1


def test_http_errors_are_reported(server: Server) -> None:
    with pytest.raises(FetchError, match=r"/missing answered HTTP 404 Not Found\.$"):
        get(server.url("/missing"))


@pytest.mark.parametrize(("size", "ok"), [(1000, True), (1001, False)])
def test_size_limit(server: Server, size: int, ok: bool) -> None:
    if ok:
        assert len(get(server.url(f"/big?size={size}"), max_bytes=1000).data) == size
    else:
        with pytest.raises(FetchError, match=r"larger than the 1,000-byte limit for one input\.$"):
            get(server.url(f"/big?size={size}"), max_bytes=1000)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/file.txt", "is not an http(s) URL"),
        ("http:///no-host", "is not an http(s) URL"),
        ("javascript:alert(1)", "is not an http(s) URL"),
        ("http://user:secret@example.org/", "carries credentials; they are not sent"),
    ],
)
def test_unusable_urls_are_refused_without_a_connection(
    url: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(FetchError) as info:
        get(url)
    assert str(info.value) == f"{url} {message}."


def test_connection_refused_is_a_fetch_error() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError, match=r"could not be fetched: .*[Rr]efused.*\.$"):
        get(f"http://127.0.0.1:{port}/")


def test_unresolvable_host_is_a_fetch_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    with pytest.raises(FetchError, match=r"^http://no-such-host\.invalid/ could not be fetched: the host name could"):
        get("http://no-such-host.invalid/", allow_private=False)


def test_a_slow_server_times_out(server: Server) -> None:
    with pytest.raises(FetchError, match=r"could not be fetched: timed out\.$"):
        get(server.url("/slow"), timeout=0.3)


def test_fetch_error_is_an_os_error(server: Server) -> None:
    with pytest.raises(OSError):
        get(server.url("/missing"))


# -- reading a URL as a source, and ingesting it -------------------------------------------------------------


def test_read_source_fetches_a_url_and_sniffs_its_kind(server: Server, tmp_path: Path) -> None:
    config = load_config(tmp_path / "data", {"fetch_allow_private": True})
    html = read_source(SourceRef(origin="u1", url=server.url("/redirect?to=/article")), config)
    assert (html.origin, html.kind, html.url, html.data) == ("u1", "html", server.url("/article"), ARTICLE_HTML)
    text = read_source(SourceRef(origin="u2", url=server.url("/plain")), config)
    assert (text.kind, text.data) == ("text", PLAIN_TEXT)


def test_read_source_applies_the_configured_size_limit(server: Server, tmp_path: Path) -> None:
    config = load_config(tmp_path / "data", {"fetch_allow_private": True, "max_fetch_bytes": 100})
    with pytest.raises(FetchError, match="100-byte limit"):
        read_source(SourceRef(origin="u", url=server.url("/big?size=101")), config)


def test_ingesting_a_local_url_is_refused_by_default(server: Server, archive: Archive) -> None:
    assert archive.config.fetch_allow_private is False
    [outcome] = ingest_sources(archive, [server.url("/article")])
    assert outcome.status == "failed"
    assert "not allowed" in outcome.error
    assert server.requests == []
    assert archive.count() == 0


def test_ingesting_a_url_when_private_addresses_are_allowed(server: Server, data_dir: Path) -> None:
    with Archive(config=load_config(data_dir, {"fetch_allow_private": True})) as archive:
        [outcome] = ingest_sources(archive, [server.url("/article?utm_source=feed")])
        assert outcome.status == "added", outcome
        assert outcome.source == server.url("/article?utm_source=feed")
        article = archive.get(outcome.id)
        assert article.title == "Police warn of rise in grooming"
        assert article.url == server.url("/article")  # tracking parameter dropped
        assert "freedom of information requests" in article.body

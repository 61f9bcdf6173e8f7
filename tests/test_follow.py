"""Following sources (ingest/follow.py, archive/subscriptions.py, `archive sources` and `archive follow`).

A local HTTP server on loopback plays the feeds: the 30 shared ones, a live feed whose entries and
ETag the test changes, a page that names its feed, and hosts that fail, rate-limit or answer slowly.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from archive.cli import main
from archive.config import load_config
from archive.errors import SourceError
from archive.service import Archive
from archive.subscriptions import describe_every, parse_every
from ingest.follow import MAX_FAILURES, Poller, add_source, discover, due_sources, follow
from tests.conftest import SHARED

FEEDS = SHARED / "feeds"
ON_TOPIC = (
    "Police arrested a man accused of grooming children on a social media app after an investigation by the"
    " National Crime Agency. Officers said the platform had reported the account, and the charity urged"
    " parents to talk to their children about online safety and to report abuse to the police. "
)
OFF_TOPIC = (
    "Cream the butter and sugar until pale, then beat in the eggs one at a time and fold in the flour. Bake"
    " the sponge for twenty five minutes until golden and leave it to cool before icing with lemon glaze. "
)


def entry(number: int, text: str = ON_TOPIC) -> dict:
    return {"id": f"urn:entry:{number}", "title": f"Story number {number}", "text": f"Story {number}. " + text * 3}


def atom(entries: list[dict], title: str = "Live News") -> bytes:
    items = "".join(
        f"<entry><id>{e['id']}</id><title>{e['title']}</title><link href='/article/{e['id'][-1]}'/>"
        f"<updated>2026-11-0{1 + i % 9}T10:00:00Z</updated><content type='text'>{e['text']}</content></entry>"
        for i, e in enumerate(entries)
    )
    return (
        f"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'><title>{title}</title>"
        f"<id>urn:live</id><updated>2026-11-20T10:00:00Z</updated>{items}</feed>"
    ).encode()


@dataclass
class FeedServer:
    host: str
    port: int
    live: bytes = b""
    etag: str = '"v1"'
    honour_conditions: bool = True
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def send(self, status: int, body: bytes = b"", content_type: str = "application/atom+xml", **headers) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with server.lock:
                server.requests.append((self.path, dict(self.headers.items())))
                server.in_flight += 1
                server.most_in_flight = max(server.most_in_flight, server.in_flight)
            try:
                self.answer(urlsplit(self.path).path)
            finally:
                with server.lock:
                    server.in_flight -= 1

        def answer(self, path: str) -> None:
            if path == "/live.xml":
                if server.honour_conditions and self.headers.get("If-None-Match") == server.etag:
                    self.send(304, ETag=server.etag)
                elif server.honour_conditions:
                    self.send(200, server.live, ETag=server.etag, Last_Modified="Fri, 20 Nov 2026 10:00:00 GMT")
                else:
                    self.send(200, server.live)
            elif path.startswith("/shared/"):
                self.send(200, (FEEDS / path.removeprefix("/shared/")).read_bytes(), content_type="application/xml")
            elif path == "/page":
                page = (
                    b"<html><head><title>News</title><link rel='alternate' type='application/atom+xml'"
                    b" href='/live.xml'></head><body>Hi</body></html>"
                )
                self.send(200, page, content_type="text/html")
            elif path == "/no-feed-page":
                self.send(
                    200, b"<html><head><title>News</title></head><body>No feed</body></html>", content_type="text/html"
                )
            elif path == "/limited.xml":
                self.send(429, b"slow down", content_type="text/plain", Retry_After="7200")
            elif path == "/broken.xml":
                self.send(500, b"oops", content_type="text/plain")
            elif path.startswith("/slow/"):
                time.sleep(0.2)
                story = {
                    "id": "urn:slow",
                    "title": f"Slow {path}",
                    "text": f"From {server.host}{path}. " + ON_TOPIC * 3,
                }
                self.send(200, atom([story], title=f"Slow {path}"))
            else:
                self.send(404, b"not found", content_type="text/plain")

    return Handler


def _serve(host: str) -> Iterator[FeedServer]:
    httpd = ThreadingHTTPServer((host, 0), None)  # type: ignore[arg-type]
    server = FeedServer(host, httpd.server_address[1], live=atom([entry(1), entry(2)]))
    httpd.RequestHandlerClass = _handler(server)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    yield from _serve("127.0.0.1")


@pytest.fixture
def other_host() -> Iterator[FeedServer]:
    yield from _serve("127.0.0.2")


@pytest.fixture
def archive(data_dir: Path) -> Iterator[Archive]:
    arch = Archive(config=load_config(data_dir, {"fetch_allow_private": True, "feed_fetch_links": False}))
    yield arch
    arch.close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def conditional_headers(server: FeedServer, path: str = "/live.xml") -> list[dict[str, str]]:
    return [headers for p, headers in server.requests if p == path]


# -- adding ----------------------------------------------------------------------------------------


def test_a_feed_url_is_followed_under_its_title_and_due_at_once(archive: Archive, feeds: FeedServer) -> None:
    source = add_source(archive, feeds.url("/live.xml"))
    assert (source.name, source.url, source.status, source.every) == ("Live News", feeds.url("/live.xml"), "new", "30m")
    assert source.due() and due_sources(archive) == [source]


def test_a_page_is_resolved_to_the_feed_it_names(archive: Archive, feeds: FeedServer) -> None:
    feed_url, feed, page_url = discover(feeds.url("/page"), archive.config)
    assert (feed_url, page_url, feed.title) == (feeds.url("/live.xml"), feeds.url("/page"), "Live News")
    source = add_source(archive, feeds.url("/page"), name="Live", every="2h")
    assert (source.url, source.page_url, source.every_seconds) == (feeds.url("/live.xml"), feeds.url("/page"), 7200)


@pytest.mark.parametrize(
    ("path", "message"),
    [("/no-feed-page", "names no RSS or Atom feed"), ("/broken.xml", "HTTP 500"), ("/missing", "HTTP 404")],
)
def test_what_cannot_be_followed_is_refused_with_a_reason(
    archive: Archive, feeds: FeedServer, path: str, message: str
) -> None:
    with pytest.raises(Exception, match=message):
        add_source(archive, feeds.url(path))
    assert archive.sources.list() == []


def test_the_same_feed_or_name_cannot_be_followed_twice(archive: Archive, feeds: FeedServer) -> None:
    add_source(archive, feeds.url("/live.xml"))
    with pytest.raises(SourceError, match="already followed"):
        add_source(archive, feeds.url("/page"))  # the same feed, through its page
    with pytest.raises(SourceError, match="already followed"):
        add_source(archive, feeds.url("/shared/trafilatura/feed1.atom"), name="live news")


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("2h", 7200), ("1d", 86400), ("45", 2700), ("600s", 600)])
def test_intervals_read_as_people_write_them(text: str, seconds: int) -> None:
    assert parse_every(text) == seconds
    assert parse_every(describe_every(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "soon", "1m", "8d", "-5m"])
def test_intervals_too_short_too_long_or_unreadable_are_refused(text: str) -> None:
    with pytest.raises(SourceError):
        parse_every(text)


# -- polling ---------------------------------------------------------------------------------------


def test_first_poll_adds_the_entries_second_asks_conditionally_and_adds_nothing(
    archive: Archive, feeds: FeedServer
) -> None:
    clock = Clock()
    source = add_source(archive, feeds.url("/live.xml"))
    first = Poller(archive, clock).poll_one(source)
    assert (first.status, first.counts["added"]) == ("ok", 2)
    assert {a.source for a in archive.articles()} == {"Live News"}
    polled = archive.sources.get("Live News")
    assert (polled.status, polled.etag, polled.articles, polled.last_added, polled.failures) == ("ok", '"v1"', 2, 2, 0)
    assert polled.next_poll_at == (clock.now + timedelta(minutes=30)).isoformat()

    second = Poller(archive, clock).poll_one(polled)
    assert (second.status, second.counts["added"], archive.count()) == ("unchanged", 0, 2)
    last = conditional_headers(feeds)[-1]
    assert last.get("If-None-Match") == '"v1"' and last.get("If-Modified-Since") == "Fri, 20 Nov 2026 10:00:00 GMT"
    assert archive.sources.get("Live News").etag == '"v1"'  # kept from the 304


def test_a_changed_feed_adds_only_its_new_entries(archive: Archive, feeds: FeedServer) -> None:
    poller = Poller(archive)
    poller.poll_one(add_source(archive, feeds.url("/live.xml")))
    feeds.live, feeds.etag = atom([entry(3), entry(1), entry(2)]), '"v2"'
    report = poller.poll_one(archive.sources.get("Live News"))
    assert (report.counts["added"], report.counts["duplicate"], archive.count()) == (1, 0, 3)
    assert sorted(a.title for a in archive.articles()) == ["Story number 1", "Story number 2", "Story number 3"]


def test_a_server_that_ignores_conditions_still_adds_nothing_twice(archive: Archive, feeds: FeedServer) -> None:
    feeds.honour_conditions = False
    poller = Poller(archive)
    poller.poll_one(add_source(archive, feeds.url("/live.xml")))
    report = poller.poll_one(archive.sources.get("Live News"))
    assert (report.status, sum(report.counts.values()), archive.count()) == ("unchanged", 0, 2)


def test_a_broken_feed_is_recorded_as_failed_without_stopping_the_others(
    archive: Archive, feeds: FeedServer, other_host: FeedServer
) -> None:
    clock = Clock()
    good = add_source(archive, feeds.url("/live.xml"))
    broken = archive.sources.add("Broken", other_host.url("/broken.xml"), 1800)
    not_a_feed = archive.sources.add("Not a feed", feeds.url("/shared/node-feedparser/notafeed.html"), 1800)
    reports = {r.source: r for r in Poller(archive, clock).poll([broken, not_a_feed, good])}
    assert (reports["Live News"].status, reports["Live News"].added) == ("ok", 2)
    assert reports["Broken"].status == "failed" and "HTTP 500" in reports["Broken"].error
    assert reports["Not a feed"].status == "failed" and "feed" in reports["Not a feed"].error
    failed = archive.sources.get("Broken")
    assert (failed.status, failed.failures, failed.last_success_at) == ("failed", 1, None)
    assert "HTTP 500" in failed.last_error and failed.next_poll_at == (clock.now + timedelta(minutes=30)).isoformat()
    assert archive.count() == 2


def test_failures_back_off_then_pause_the_source_until_it_is_resumed(archive: Archive, feeds: FeedServer) -> None:
    clock = Clock()
    source = archive.sources.add("Broken", feeds.url("/broken.xml"), 1800)
    poller = Poller(archive, clock)
    waits = []
    for _ in range(MAX_FAILURES):
        report = poller.poll_one(archive.sources.get("Broken"))
        waits.append(datetime.fromisoformat(report.next_poll_at) - clock.now)
    assert waits[:4] == [timedelta(minutes=30 * 2**n) for n in range(4)]
    paused = archive.sources.get("Broken")
    assert (report.status, paused.status, paused.failures) == ("paused", "paused", MAX_FAILURES)
    clock.now += timedelta(days=30)
    assert not paused.due(clock.now) and due_sources(archive, now=clock.now) == []
    assert due_sources(archive, everything=True, now=clock.now) == []
    assert [s.name for s in due_sources(archive, ["broken"], now=clock.now)] == ["Broken"]  # by name, even paused
    resumed = archive.sources.set_paused(source.id, False)
    assert (resumed.status, resumed.failures, resumed.due(clock.now)) == ("failed", 0, True)


def test_rate_limited_feed_waits_as_long_as_retry_after_asks(archive: Archive, feeds: FeedServer) -> None:
    clock = Clock()
    report = Poller(archive, clock).poll_one(archive.sources.add("Busy", feeds.url("/limited.xml"), 1800))
    assert report.status == "failed" and "429" in report.error
    assert datetime.fromisoformat(report.next_poll_at) - clock.now == timedelta(hours=2)


def test_a_source_is_due_again_after_its_interval(archive: Archive, feeds: FeedServer) -> None:
    clock = Clock()
    Poller(archive, clock).poll_one(add_source(archive, feeds.url("/live.xml"), every="1h"))
    assert due_sources(archive, now=clock.now + timedelta(minutes=59)) == []
    assert [s.name for s in due_sources(archive, now=clock.now + timedelta(minutes=60))] == ["Live News"]


def test_on_topic_only_keeps_articles_about_child_protection(archive: Archive, feeds: FeedServer) -> None:
    feeds.live = atom([entry(1), entry(2, OFF_TOPIC)])
    poller = Poller(archive)
    report = poller.poll_one(add_source(archive, feeds.url("/live.xml"), on_topic_only=True))
    assert (report.counts["added"], report.counts["off-topic"]) == (1, 1)
    assert [a.title for a in archive.articles()] == ["Story number 1"]
    feeds.etag = '"v2"'  # the same entries again: the off-topic one is not tagged a second time
    assert sum(poller.poll_one(archive.sources.get("Live News")).counts.values()) == 0
    assert archive.sources.get("Live News").skipped == 1


def test_one_request_per_host_at_a_time_and_hosts_side_by_side(
    archive: Archive, feeds: FeedServer, other_host: FeedServer
) -> None:
    for server in (feeds, other_host):
        for n in range(1, 4):
            archive.sources.add(f"{server.host} {n}", server.url(f"/slow/{n}"), 1800)
    started = time.monotonic()
    reports = Poller(archive).poll(archive.sources.list())
    elapsed = time.monotonic() - started
    assert len(reports) == 6 and all(r.status == "ok" for r in reports)
    assert feeds.most_in_flight == 1 and other_host.most_in_flight == 1
    assert elapsed < 6 * 0.2  # the two hosts were polled at the same time


def test_every_shared_feed_gives_entries_or_a_recorded_failure(archive: Archive, feeds: FeedServer) -> None:
    paths = sorted(p for p in FEEDS.rglob("*") if p.suffix in (".xml", ".atom", ".rss", ".html", ".rdf"))
    assert len(paths) == 30
    for path in paths:
        relative = path.relative_to(FEEDS).as_posix()
        archive.sources.add(relative, feeds.url(f"/shared/{relative}"), 1800)
    reports = Poller(archive).poll(archive.sources.list())
    assert len(reports) == 30
    for report in reports:
        assert report.status in ("ok", "unchanged", "failed"), report
        if report.status == "failed":
            assert report.error and "Traceback" not in report.error
    worked = [r for r in reports if r.status == "ok"]
    assert len(worked) >= 20 and archive.count() >= 100


# -- the commands ----------------------------------------------------------------------------------


def run(data_dir: Path, *args: str):
    env = {"ARCHIVE_FETCH_ALLOW_PRIVATE": "1", "ARCHIVE_FEED_FETCH_LINKS": "0"}
    return CliRunner().invoke(main, ["--data", str(data_dir), *args], env=env)


def test_sources_commands_add_list_poll_and_remove(data_dir: Path, feeds: FeedServer) -> None:
    added = run(data_dir, "sources", "add", feeds.url("/page"), "--every", "1h", "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["url"] == feeds.url("/live.xml")
    polled = run(data_dir, "sources", "poll", "--json")
    assert polled.exit_code == 0 and json.loads(polled.stdout) | {"next_poll_at": None} == {
        "source": "Live News",
        "status": "ok",
        "added": 2,
        "updated": 0,
        "duplicate": 0,
        "off_topic": 0,
        "failed": 0,
        "error": None,
        "next_poll_at": None,
    }
    listed = json.loads(run(data_dir, "sources", "list", "--json").stdout)
    assert (listed["name"], listed["articles"], listed["status"], listed["every"]) == ("Live News", 2, "ok", "1h")
    again = run(data_dir, "sources", "poll")
    assert again.exit_code == 0 and "no source is due" in again.stderr
    removed = run(data_dir, "sources", "remove", "live news")
    assert removed.exit_code == 0 and "its 2 articles stay" in removed.stdout
    assert run(data_dir, "sources", "list", "--json").stdout == ""


def test_sources_commands_fail_with_one_line(data_dir: Path, feeds: FeedServer) -> None:
    for args, message in [
        (("sources", "add", feeds.url("/live.xml"), "--every", "1m"), "at most every 5 minutes"),
        (("sources", "add", feeds.url("/no-feed-page")), "names no RSS or Atom feed"),
        (("sources", "remove", "Nobody"), "No source is named 'Nobody'"),
        (("sources", "poll", "Nobody"), "No source is named 'Nobody'"),
    ]:
        result = run(data_dir, *args)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("archive: error: ") and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_failed_poll_exits_1_and_names_the_source(data_dir: Path, feeds: FeedServer) -> None:
    Archive(data_dir).sources.add("Broken", feeds.url("/broken.xml"), 1800)
    result = run(data_dir, "sources", "poll", "--all")
    assert result.exit_code == 1 and "Broken: failed:" in result.stderr and "HTTP 500" in result.stderr


def test_follow_polls_due_sources_until_stopped(archive: Archive, feeds: FeedServer) -> None:
    add_source(archive, feeds.url("/live.xml"))
    stop, reports = threading.Event(), []
    thread = threading.Thread(target=follow, args=(archive, stop), kwargs={"report": reports.append})
    thread.start()
    deadline = time.monotonic() + 20
    while not reports and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert [(r.source, r.added) for r in reports] == [("Live News", 2)]

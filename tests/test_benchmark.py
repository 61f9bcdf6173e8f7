"""The benchmark's parts, checked for correctness (never for time): a deterministic corpus, the bulk
import, an FTS5 comparison that answers the same questions, and a report with every figure."""

from __future__ import annotations

import json
import statistics

import pytest

from archive.benchmark import MIX, Fts5Archive, Query, print_report, run, synthetic_articles, write_report
from archive.models import SearchQuery
from archive.service import Archive


def test_the_corpus_is_deterministic_and_shaped_like_news():
    first = list(synthetic_articles(400))
    again = list(synthetic_articles(400))
    assert [(a.title, a.body, a.published, a.topics) for a in first] == [
        (a.title, a.body, a.published, a.topics) for a in again
    ]
    lengths = [len(a.body.split()) for a in first]
    assert min(lengths) >= 300 and max(lengths) <= 900
    assert 420 <= statistics.median(lengths) <= 580
    years = {int(a.published[:4]) for a in first}
    assert min(years) == 2011 and max(years) == 2025
    assert len({a.source for a in first}) > 20
    assert {len(a.topics) for a in first} == {0, 1, 2, 3}
    assert len({a.fingerprint for a in first}) == 400


def test_bulk_import_adds_once_and_is_searchable(tmp_path):
    with Archive(tmp_path / "data") as arch:
        counts = arch.import_articles(synthetic_articles(250), procs=1)
        assert counts == {"added": 250, "duplicate": 0}
        again = arch.import_articles(synthetic_articles(260), procs=1)
        assert again == {"added": 10, "duplicate": 250}
        assert arch.count() == 260
        assert arch.check(repair=False).ok
        assert arch.search(SearchQuery(q="")).total == 260


def test_bulk_import_with_two_writer_processes(tmp_path):
    with Archive(tmp_path / "data") as arch:
        assert arch.import_articles(synthetic_articles(120), procs=2)["added"] == 120
        assert arch.check(repair=False).ok
        child = arch.search(SearchQuery(q="child")).total
    with Archive(tmp_path / "data") as reopened:
        assert reopened.search(SearchQuery(q="child")).total == child > 0


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    arch = Archive(root / "data")
    arch.import_articles(synthetic_articles(300), procs=1)
    fts = Fts5Archive(root / "fts.sqlite3")
    fts.load(synthetic_articles(300))
    yield arch, fts
    fts.close()
    arch.close()


@pytest.mark.parametrize("query", [q for q in MIX if q.name in {"common term", "rare term", "two terms", "topic filter",
                                                                 "date range", "sort by date", "browse"}],
                         ids=lambda q: q.name)  # fmt: skip
def test_fts5_answers_the_same_questions(both, query):
    arch, fts = both
    ours = arch.search(SearchQuery(q=query.q, topics=list(query.topics), date_from=query.date_from,
                                   date_to=query.date_to, sort=query.sort))  # type: ignore[arg-type]  # fmt: skip
    theirs = fts.search(query)
    assert theirs["total"] == ours.total > 0
    assert dict(theirs["facets"]["topic"]) == ours.facets["topic"]
    assert dict(theirs["facets"]["year"]) == ours.facets["year"]
    assert sum(n for _, _, n in theirs["timeline"]) == sum(b.total for b in ours.timeline.buckets)
    assert len(theirs["hits"]) == len(ours.hits) == 10
    if query.q:
        assert all("<mark>" in snippet for _, _, snippet in theirs["hits"])


def test_fts5_filters_combine(both):
    _, fts = both
    narrow = fts.search(Query("x", "child", "child", topics=("policy",), date_from="2015", date_to="2016"))
    wide = fts.search(Query("x", "child", "child"))
    assert 0 < narrow["total"] < wide["total"]


def test_a_small_run_reports_every_figure(tmp_path, capsys):
    pages = []
    report = run(tmp_path / "bench", 150, rounds=2, render_page=pages.append, echo=print)
    assert report.import_rate > 0 and report.index_mb > 0 and report.peak_rss_mb > 0
    summary = report.summary()
    for system in ("whoosh", "fts5", "page"):
        assert set(summary[system]) == {"all", *(q.name for q in MIX)}
        assert summary[system]["all"]["n"] == 2 * len(MIX)
    warm_up, *timed = pages  # the web app's first search is not timed, as the engine's is not
    assert "per_page=" not in warm_up
    assert len(timed) == 2 * len(MIX) and all("per_page=" in p for p in timed)
    print_report(report)
    out = capsys.readouterr().out
    assert "imported 150 articles" in out and "common term" in out and "ratio" in out
    write_report(report, tmp_path / "report.json")
    record = json.loads((tmp_path / "report.json").read_text())
    assert record["articles"] == 150 and record["latency_ms"]["fts5"]["phrase"]["n"] == 2


def test_archive_bench_prints_figures_and_writes_them(tmp_path):
    from tests.test_cli import run as run_cli

    report = tmp_path / "report.json"
    proc = run_cli(tmp_path / "unused", "bench", "--articles", "100", "--rounds", "1", "--dir", str(tmp_path / "b"),
                   "--json", str(report))  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    assert "imported 100 articles" in out and "whoosh p50" in out and "sort by date" in out
    assert json.loads(report.read_text())["articles"] == 100
    assert not (tmp_path / "unused").exists()  # the user's archive is never touched

"""The performance benchmark: a deterministic synthetic corpus, imported through the bulk path, then
the same search requests against our Whoosh search and an SQLite FTS5 implementation of the same
features (query, filters, facet counts, timeline, ten highlighted hits), side by side.

Run through `archive bench` or `make bench`; it prints figures and writes a JSON report (and a PNG
chart of the latency distributions when matplotlib is installed). Tests never assert on its times.
"""

from __future__ import annotations

import json
import math
import random
import resource
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .index import NO_TOPIC
from .models import TOPICS, Article, SearchQuery, TopicScore
from .service import Archive

SEED = 20261121
YEARS = (2011, 2025)  # fifteen years of dates
SOURCES = 60
# Words of the field, most frequent first; a Zipf tail of made-up words follows them.
FIELD_WORDS = (
    "child online safety police report children platform abuse said government internet social media "
    "grooming regulator law parents school charity offenders images material encryption arrested court "
    "minister bill protection young people victims helpline investigation moderation content accounts "
    "sexual exploitation officers cases reports removed companies data new year duty care teenagers "
    "sextortion livestream operation network charged sentenced prison evidence detection scanning apps "
    "messaging privacy consultation legislation parliament commission europe agency education awareness"
).split()
SYLLABLES = "ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu ra re ri ro ru sa se si so su ta te ti to tu".split()  # noqa: E501
VOCABULARY = 40_000


@dataclass(frozen=True)
class Query:
    """One request of the mix: our query language, the same as an FTS5 MATCH, and filters."""

    name: str
    q: str
    fts: str | None
    topics: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    sort: str = "relevance"


MIX = (
    Query("common term", "child", "child"),
    Query("rare term", "sextortion", "sextortion"),
    Query("two terms", "police grooming", "police grooming"),
    Query("phrase", '"online safety"', '"online safety"'),
    Query("prefix", "protect*", "protect*"),
    Query("topic filter", "platform", "platform", topics=("policy",)),
    Query("date range", "encryption", "encryption", date_from="2019", date_to="2021"),
    Query("sort by date", "court", "court", sort="newest"),
    Query("browse", "", None, sort="newest"),
)


@dataclass
class Report:
    articles: int
    import_seconds: float = 0.0
    import_rate: float = 0.0
    peak_rss_mb: float = 0.0  # this process
    worker_rss_mb: float = 0.0  # the largest of the import's segment-building processes
    index_mb: float = 0.0
    store_mb: float = 0.0
    fts_import_rate: float = 0.0
    latencies: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # system -> query -> ms

    def summary(self) -> dict:
        out = {}
        for system, by_query in self.latencies.items():
            every = [t for times in by_query.values() for t in times]
            out[system] = {"all": _percentiles(every), **{q: _percentiles(t) for q, t in by_query.items()}}
        return out


# -- the corpus ---------------------------------------------------------------------------------


def vocabulary(rnd: random.Random) -> list[str]:
    words = list(FIELD_WORDS)
    seen = set(words)
    while len(words) < VOCABULARY:
        word = "".join(rnd.choice(SYLLABLES) for _ in range(rnd.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def synthetic_articles(count: int, seed: int = SEED) -> Iterator[Article]:
    """`count` articles: Zipf word frequencies, 300-900 words (median near 500), dates over fifteen years."""
    rnd = random.Random(seed)
    words = vocabulary(rnd)
    weights = [1 / (rank + 1) ** 1.05 for rank in range(len(words))]
    cumulative = list(_accumulate(weights))
    sources = [f"{rnd.choice(SYLLABLES).title()}{rnd.choice(SYLLABLES)} {kind}" for kind in
               ("Courier", "Ledger", "Review", "Post", "Tribune", "Herald") for _ in range(SOURCES // 6)]  # fmt: skip
    for n in range(count):
        length = min(900, max(300, int(rnd.lognormvariate(math.log(500), 0.3))))
        drawn = rnd.choices(words, cum_weights=cumulative, k=length)
        sentences = [" ".join(drawn[i : i + 17]).capitalize() + "." for i in range(0, length, 17)]
        body = "\n\n".join(" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4))
        title = " ".join(rnd.choices(words[:400], k=rnd.randint(5, 11))).capitalize()
        year = rnd.randint(*YEARS)
        topics = rnd.sample(TOPICS, k=rnd.choice((0, 1, 1, 2, 2, 3)))
        scores = [TopicScore(t, round(0.9 - i / 10, 2), True) for i, t in enumerate(topics)]
        yield Article(
            title=title,
            body=body,
            url=f"https://news.example/{n}",
            source=rnd.choice(sources),
            author=f"{rnd.choice(SYLLABLES).title()}{rnd.choice(SYLLABLES)} {rnd.choice(SYLLABLES).title()}",
            published=f"{year}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
            language="en",
            fingerprint=f"{seed:x}-{n:08x}",
            id=f"{n:016x}",
            scores=scores,
        )


def _accumulate(weights: list[float]) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


# -- the FTS5 comparison --------------------------------------------------------------------------


class Fts5Archive:
    """The same search features on SQLite FTS5: ranked match, filters, facet counts, timeline, snippets."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.executescript(
            """
            PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
            CREATE TABLE IF NOT EXISTS docs (id INTEGER PRIMARY KEY, title TEXT, body TEXT, source TEXT,
                date TEXT, year TEXT, month TEXT, language TEXT, primary_topic TEXT);
            CREATE TABLE IF NOT EXISTS topics (doc INTEGER, topic TEXT);
            CREATE INDEX IF NOT EXISTS topics_topic ON topics (topic, doc);
            CREATE INDEX IF NOT EXISTS docs_date ON docs (date);
            CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, body, content='docs', content_rowid='id',
                tokenize='porter unicode61 remove_diacritics 2');
            """
        )

    def load(self, articles: Iterator[Article]) -> int:
        count = 0
        with self.conn:
            for n, a in enumerate(articles, start=1):
                topics = a.topics
                self.conn.execute(
                    "INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (n, a.title, a.body, a.source, a.published, a.published[:4], a.published[:7], a.language,
                     topics[0] if topics else NO_TOPIC),
                )  # fmt: skip
                self.conn.executemany("INSERT INTO topics VALUES (?, ?)", [(n, t) for t in topics])
                count += 1
            self.conn.execute("INSERT INTO fts(fts) VALUES ('rebuild')")
        return count

    def search(self, query: Query, per_page: int = 10) -> dict:
        where, params = [], []
        if query.fts:
            where.append("id IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
            params.append(query.fts)
        for topic in query.topics:
            where.append("id IN (SELECT doc FROM topics WHERE topic = ?)")
            params.append(topic)
        if query.date_from:
            where.append("date >= ?")
            params.append(query.date_from)
        if query.date_to:
            where.append("date <= ?")
            params.append(query.date_to + "-12-31" if len(query.date_to) == 4 else query.date_to)
        clause = " AND ".join(where) or "1"
        c = self.conn
        c.execute("DROP TABLE IF EXISTS temp.matched")
        c.execute("CREATE TEMP TABLE matched (id INTEGER PRIMARY KEY)")
        c.execute(f"INSERT INTO matched SELECT id FROM docs WHERE {clause}", params)
        total = c.execute("SELECT count(*) FROM matched").fetchone()[0]
        facets = {
            "topic": c.execute(
                "SELECT topic, count(*) FROM topics WHERE doc IN matched GROUP BY topic ORDER BY 2 DESC"
            ).fetchall(),
            **{
                name: c.execute(
                    f"SELECT {column}, count(*) FROM docs WHERE id IN matched GROUP BY 1 ORDER BY 2 DESC"
                ).fetchall()
                for name, column in (("source", "source"), ("year", "year"), ("language", "language"))
            },
        }
        timeline = c.execute(
            "SELECT month, primary_topic, count(*) FROM docs WHERE id IN matched GROUP BY 1, 2"
        ).fetchall()
        marked = "highlight(fts, 0, '<mark>', '</mark>'), snippet(fts, 1, '<mark>', '</mark>', ' … ', 24)"
        if query.fts:
            # Joined, not `rowid IN matched`: FTS5 answers an IN on rowid one lookup per row.
            order = "rank" if query.sort == "relevance" else "docs.date DESC"
            hits = c.execute(
                f"SELECT fts.rowid, {marked} FROM fts JOIN matched ON matched.id = fts.rowid"
                f" JOIN docs ON docs.id = fts.rowid WHERE fts MATCH ? ORDER BY {order} LIMIT ?",
                (query.fts, per_page),
            ).fetchall()
        else:
            hits = c.execute(
                "SELECT id, title, substr(body, 1, 240) FROM docs WHERE id IN matched ORDER BY date DESC LIMIT ?",
                (per_page,),
            ).fetchall()
        return {"total": total, "facets": facets, "timeline": timeline, "hits": hits}

    def close(self) -> None:
        self.conn.close()


# -- running it -----------------------------------------------------------------------------------


def run(
    data_dir: Path,
    articles: int,
    rounds: int = 5,
    render_page: Callable[[str], object] | None = None,
    progress: Callable[[int], None] | None = None,
    echo: Callable[[str], None] = print,
) -> Report:
    """Build (or reuse) a benchmark archive of `articles` articles in `data_dir`, then time the mix.

    Each query runs `rounds` times with a different page size, so that no round is a cached answer.
    `render_page` (given by the command line, which may import the web app) renders the whole
    search page for a query string.
    """
    report = Report(articles=articles)
    data_dir.mkdir(parents=True, exist_ok=True)
    with Archive(data_dir) as arch:
        if arch.count() < articles:
            started = time.perf_counter()
            counts = arch.import_articles(synthetic_articles(articles), progress=progress)
            report.import_seconds = time.perf_counter() - started
            report.import_rate = counts["added"] / report.import_seconds
            echo(f"imported {counts['added']:,} articles in {report.import_seconds:.0f} s: "
                 f"{report.import_rate:.0f} articles/s")  # fmt: skip
        report.index_mb = _size_mb(arch.config.index_dir)
        report.store_mb = _size_mb(arch.config.store_path)
        fts_path = data_dir / "fts5-comparison.sqlite3"
        fts = Fts5Archive(fts_path)
        if fts.conn.execute("SELECT count(*) FROM docs").fetchone()[0] < articles:
            started = time.perf_counter()
            fts.load(synthetic_articles(articles))
            report.fts_import_rate = articles / (time.perf_counter() - started)
        report.latencies = {"whoosh": {}, "fts5": {}, "page": {}}
        arch.search(SearchQuery(q="warm up"))  # first searcher, columns
        if render_page is not None:
            render_page("q=warm+up")  # the web app's own archive and searcher, as a running server has them
        for query in MIX:
            for round_ in range(rounds):
                per_page = 10 + round_
                request = SearchQuery(
                    q=query.q, topics=list(query.topics), date_from=query.date_from, date_to=query.date_to,
                    sort=query.sort, per_page=per_page,  # type: ignore[arg-type]
                )  # fmt: skip
                started = time.perf_counter()
                arch.search(request)
                report.latencies["whoosh"].setdefault(query.name, []).append(_ms(started))
                started = time.perf_counter()
                fts.search(query, per_page)
                report.latencies["fts5"].setdefault(query.name, []).append(_ms(started))
                if render_page is not None:
                    started = time.perf_counter()
                    render_page(_query_string(query, per_page + rounds))
                    report.latencies["page"].setdefault(query.name, []).append(_ms(started))
        fts.close()
    report.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report.worker_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return report


def print_report(report: Report, echo: Callable[[str], None] = print) -> None:
    summary = report.summary()
    echo(f"\n{report.articles:,} articles; index {report.index_mb:.0f} MB, store {report.store_mb:.0f} MB; "
         f"peak memory {report.peak_rss_mb:.0f} MB, largest worker process {report.worker_rss_mb:.0f} MB")  # fmt: skip
    if report.import_rate:
        echo(f"import: {report.import_rate:.0f} articles/s (FTS5 load: {report.fts_import_rate:.0f} articles/s)")
    columns = ("whoosh p50", 11), ("p95", 7), ("fts5 p50", 9), ("p95", 7), ("ratio", 6), ("page p50", 9), ("p95", 7)
    echo("\n" + f"{'query':16}" + "".join(f" {name:>{width}}" for name, width in columns))
    for name in ["all", *(q.name for q in MIX)]:
        w, f = summary["whoosh"][name], summary["fts5"][name]
        p = summary.get("page", {}).get(name)
        ratio = w["p50"] / f["p50"] if f["p50"] else float("inf")
        page = f"{p['p50']:9.1f} {p['p95']:7.1f}" if p else ""
        echo(f"{name:16} {w['p50']:11.1f} {w['p95']:7.1f} {f['p50']:9.1f} {f['p95']:7.1f} {ratio:6.1f} {page}")


def write_report(report: Report, path: Path) -> None:
    record = {
        "articles": report.articles,
        "import_articles_per_s": round(report.import_rate, 1),
        "fts5_import_articles_per_s": round(report.fts_import_rate, 1),
        "peak_rss_mb": round(report.peak_rss_mb, 1),
        "worker_rss_mb": round(report.worker_rss_mb, 1),
        "index_mb": round(report.index_mb, 1),
        "store_mb": round(report.store_mb, 1),
        "latency_ms": report.summary(),
        "raw_ms": report.latencies,
    }
    path.write_text(json.dumps(record, indent=2), encoding="utf-8")


def write_chart(report: Report, path: Path) -> bool:
    """A PNG of the latency distributions per query and system; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = [q.name for q in MIX]
    systems = [s for s in ("whoosh", "page", "fts5") if report.latencies.get(s)]
    figure, axis = plt.subplots(figsize=(11, 5))
    width = 0.8 / len(systems)
    for i, system in enumerate(systems):
        data = [report.latencies[system].get(name, [0.0]) for name in names]
        positions = [n + (i - (len(systems) - 1) / 2) * width for n in range(len(names))]
        parts = axis.boxplot(data, positions=positions, widths=width * 0.9, patch_artist=True, showfliers=False)
        for box in parts["boxes"]:
            box.set_facecolor(("#1d4f91", "#b9830f", "#17897d")[i])
        axis.plot([], [], color=("#1d4f91", "#b9830f", "#17897d")[i], linewidth=8, label=system)
    axis.set_xticks(range(len(names)), names, rotation=20)
    axis.set_ylabel("milliseconds")
    axis.set_title(f"Search latency at {report.articles:,} articles")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def _query_string(query: Query, per_page: int) -> str:
    from urllib.parse import urlencode

    params = [("q", query.q), *(("topic", t) for t in query.topics)]
    params += [(k, v) for k, v in (("from", query.date_from), ("to", query.date_to)) if v]
    params += [("sort", query.sort), ("per_page", str(per_page))]
    return urlencode(params)


def _percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    if not ordered:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "n": 0}

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)

    return {"p50": round(statistics.median(ordered), 2), "p95": at(0.95), "p99": at(0.99), "n": len(ordered)}


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6

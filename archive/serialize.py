"""The JSON shapes of the command line and the web API, defined once (see DESIGN.md's contract)."""

from __future__ import annotations

import html
from dataclasses import asdict

from .models import Article, Correction, Evidence, Hit, IngestOutcome, SearchResult, Similar, Timeline, TopicScore
from .subscriptions import Source


def outcome_to_dict(outcome: IngestOutcome) -> dict:
    return asdict(outcome)


def scores_to_dicts(scores: list[TopicScore]) -> tuple[list[str], dict[str, float], dict[str, list[dict]]]:
    """(assigned topics best first, score per topic, evidence per topic) from machine scores."""
    ranked = sorted(scores, key=lambda s: s.score, reverse=True)
    return (
        [s.topic for s in ranked if s.assigned],
        {s.topic: s.score for s in scores},
        {s.topic: [{"term": e.term, "count": e.count} for e in s.evidence] for s in scores},
    )


def tag_to_dict(source: str, scores: list[TopicScore], relevance: float = 1.0, unrelated: bool = False) -> dict:
    topics, score_map, evidence = scores_to_dicts(scores)
    return {"source": source, "topics": topics, "scores": score_map, "evidence": evidence,
            "relevance": relevance, "off_topic": unrelated}  # fmt: skip


def extraction_to_dict(source: str, article: Article) -> dict:
    return {
        "source": source,
        "title": article.title,
        "author": article.author,
        "date": article.published,
        "url": article.canonical_url or article.url,
        "language": article.language,
        "publisher": article.source,  # "source" is the input here, as in every per-input record
        "summary_only": article.summary_only,
        "text": article.body,
    }


def hit_to_dict(hit: Hit, snippet: bool = True) -> dict:
    record = {
        "id": hit.id,
        "title": hit.title,
        "url": hit.url,
        "source": hit.source,
        "date": hit.date,
        "topics": hit.topics,
        "off_topic": hit.off_topic,
        "score": hit.score,
    }
    if snippet:
        record["snippet"] = hit.snippet
    return record


def timeline_to_dict(timeline: Timeline | None) -> dict | None:
    if timeline is None:
        return None
    return {
        "unit": timeline.unit,
        "buckets": [{"period": b.period, "total": b.total, "topics": b.topics} for b in timeline.buckets],
        "undated": timeline.undated,
    }


def result_to_dict(result: SearchResult) -> dict:
    return {
        "query": result.query,
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "took_ms": result.took_ms,
        "hits": [hit_to_dict(h) for h in result.hits],
        "facets": result.facets,
        "timeline": timeline_to_dict(result.timeline),
        "suggestion": result.suggestion,
    }


def similar_to_dict(article_id: str, similar: Similar) -> dict:
    return {
        "id": article_id,
        "same_story": [hit_to_dict(h, snippet=False) for h in similar.same_story],
        "more_like_this": [hit_to_dict(h, snippet=False) for h in similar.more_like_this],
    }


EXPORT_COLUMNS = ("id", "title", "url", "source", "date", "author", "topics", "snippet")


def hit_to_export(hit: Hit) -> dict:
    """One search match as exported: the snippet as plain text (marks removed, entities decoded)."""
    record = {**hit_to_dict(hit, snippet=False), "author": hit.author, "snippet": snippet_text(hit.snippet)}
    return {column: record[column] for column in EXPORT_COLUMNS}


def hit_to_csv_row(hit: Hit) -> list[str]:
    record = hit_to_export(hit)
    record["topics"] = "; ".join(record["topics"])
    return [safe_cell(record[c]) for c in EXPORT_COLUMNS]


def snippet_text(snippet_html: str) -> str:
    """A highlighted snippet as plain text: the only markup it holds is <mark>, all else is escaped."""
    return html.unescape(snippet_html.replace("<mark>", "").replace("</mark>", ""))


def safe_cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text: a leading = + - @ (or tab, CR) would start a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def article_to_dict(article: Article) -> dict:
    _, score_map, evidence = scores_to_dicts(article.scores)
    return {
        "id": article.id,
        "title": article.title,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "source": article.source,
        "author": article.author,
        "date": article.published,
        "language": article.language,
        "ingested_at": article.ingested_at,
        "summary_only": article.summary_only,
        "text": article.body,
        "topics": article.topics,
        "off_topic": article.off_topic,
        "scores": score_map,
        "evidence": evidence,
        "sentences": {s.topic: s.sentence for s in article.scores if s.sentence},
        "corrections": [asdict(c) for c in article.corrections],
    }


def article_to_record(article: Article) -> dict:
    """An article as `archive export` writes it: the API's shape plus what `archive import` needs to
    restore it exactly (fingerprint, origin, which topics the machine assigned)."""
    return {
        **article_to_dict(article),
        "fingerprint": article.fingerprint,
        "origin": article.origin,
        "machine_topics": [s.topic for s in article.scores if s.assigned],
        "unrelated": article.unrelated,
    }


def article_from_record(record: dict) -> Article:
    """The article an export record holds; raises ValueError (KeyError, TypeError) when it is not one."""
    if not isinstance(record, dict):
        raise ValueError("a record must be a JSON object")
    machine = set(record.get("machine_topics") or [])
    evidence = record.get("evidence") or {}
    sentences = record.get("sentences") or {}
    scores = [
        TopicScore(
            topic=topic,
            score=float(score),
            assigned=topic in machine,
            evidence=[Evidence(e["term"], int(e["count"])) for e in evidence.get(topic, [])],
            sentence=sentences.get(topic, ""),
        )
        for topic, score in (record.get("scores") or {}).items()
    ]
    corrections = [
        Correction(topic=c["topic"], action=c["action"], user=c["user"], created_at=c["created_at"])
        for c in record.get("corrections") or []
    ]
    if not record.get("id") or not record.get("title") or not record.get("fingerprint"):
        raise ValueError("a record needs an id, a title and a fingerprint (write it with `archive export`)")
    return Article(
        id=record["id"],
        title=record["title"],
        body=record.get("text") or "",
        url=record.get("url"),
        canonical_url=record.get("canonical_url"),
        source=record.get("source"),
        author=record.get("author"),
        published=record.get("date"),
        language=record.get("language"),
        origin=record.get("origin"),
        fingerprint=record["fingerprint"],
        summary_only=bool(record.get("summary_only")),
        ingested_at=record.get("ingested_at"),
        scores=scores,
        corrections=corrections,
        unrelated=bool(record.get("unrelated")),
    )


CSV_COLUMNS = ("id", "title", "url", "canonical_url", "source", "author", "date", "language", "topics", "summary_only",
               "ingested_at", "text")  # fmt: skip


def article_to_csv_row(article: Article) -> list[str]:
    """One article as a CSV row in CSV_COLUMNS order; topics joined by "; "."""
    record = article_to_dict(article)
    record["topics"] = "; ".join(record["topics"])
    return [safe_cell(record[c]) for c in CSV_COLUMNS]


def source_to_dict(source: Source) -> dict:
    """A followed source with its state; `every` as people write it (30m, 2h)."""
    return asdict(source) | {"every": source.every}


def poll_report_to_dict(report) -> dict:
    """One poll of a followed source (ingest.follow.PollReport)."""
    return {
        "source": report.source,
        "status": report.status,
        "added": report.counts["added"],
        "updated": report.counts["updated"],
        "duplicate": report.counts["duplicate"],
        "off_topic": report.counts["off-topic"],
        "failed": report.counts["failed"],
        "error": report.error,
        "next_poll_at": report.next_poll_at,
    }

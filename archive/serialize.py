"""The JSON shapes of the command line and the web API, defined once (see DESIGN.md's contract)."""

from __future__ import annotations

from dataclasses import asdict

from .models import Article, IngestOutcome, SearchResult, TopicScore


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


def tag_to_dict(source: str, scores: list[TopicScore]) -> dict:
    topics, score_map, evidence = scores_to_dicts(scores)
    return {"source": source, "topics": topics, "scores": score_map, "evidence": evidence}


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


def result_to_dict(result: SearchResult) -> dict:
    return {
        "query": result.query,
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "took_ms": result.took_ms,
        "hits": [
            {
                "id": h.id,
                "title": h.title,
                "url": h.url,
                "source": h.source,
                "date": h.date,
                "topics": h.topics,
                "score": h.score,
                "snippet": h.snippet,
            }
            for h in result.hits
        ],
        "facets": result.facets,
        "suggestion": result.suggestion,
    }


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
        "scores": score_map,
        "evidence": evidence,
        "sentences": {s.topic: s.sentence for s in article.scores if s.sentence},
        "corrections": [asdict(c) for c in article.corrections],
    }


CSV_COLUMNS = ("id", "title", "url", "canonical_url", "source", "author", "date", "language", "topics", "summary_only",
               "ingested_at", "text")  # fmt: skip


def article_to_csv_row(article: Article) -> list[str]:
    """One article as a CSV row in CSV_COLUMNS order; topics joined by "; "."""
    record = article_to_dict(article)
    record["topics"] = "; ".join(record["topics"])
    return ["" if record[c] is None else str(record[c]) for c in CSV_COLUMNS]

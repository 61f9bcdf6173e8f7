"""One article: its metadata, clean text, and each topic's score with the evidence behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Blueprint, render_template, request

from archive.errors import ArticleNotFound
from archive.models import Article, Correction, Evidence

from .extension import get_archive
from .search_state import SearchState

bp = Blueprint("articles", __name__)


@dataclass(frozen=True)
class TopicRow:
    """One topic of the taxonomy as it applies to one article."""

    name: str
    label: str
    threshold: float
    score: float
    assigned: bool
    evidence: list[Evidence] = field(default_factory=list)
    sentence: str = ""
    correction: Correction | None = None  # the latest person's decision on this topic, if any


@bp.get("/articles/<article_id>")
def show(article_id: str):
    arch = get_archive()
    try:
        article = arch.get(article_id)
    except ArticleNotFound:
        page = render_template(
            "error.html",
            code=404,
            title="Article not found",
            message="No article in the archive has this id; it may have been removed, or the link is mistyped.",
            state=SearchState(),
        )
        return page, 404
    return render_template(
        "article.html",
        article=article,
        topic_rows=topic_rows(article),
        similar=arch.similar(article_id),
        back_url=back_url(),
        state=SearchState(),  # the header's search form starts a fresh search
    )


def topic_rows(article: Article) -> list[TopicRow]:
    """Every topic of the taxonomy, in its order, with this article's score and evidence."""
    rows = []
    latest = {c.topic: c for c in sorted(article.corrections, key=lambda c: c.created_at)}
    for topic in get_archive().taxonomy.topics:
        score = article.score_for(topic.name)
        rows.append(
            TopicRow(
                name=topic.name,
                label=topic.label,
                threshold=topic.threshold,
                score=score.score if score else 0.0,
                assigned=topic.name in article.topics,
                evidence=sorted(score.evidence, key=lambda e: -e.count) if score else [],
                sentence=score.sentence if score else "",
                correction=latest.get(topic.name),
            )
        )
    return rows


def back_url() -> str | None:
    """The results page the reader came from, when the Referer is one of ours; else None."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    ours = {request.script_root + "/", request.script_root + "/search"}
    if parts.scheme in {"http", "https"} and parts.netloc == request.host and parts.path in ours:
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return None

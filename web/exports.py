"""Taking a search away: every match as CSV or JSON Lines, streamed, and the newest as an Atom feed."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from itertools import chain

from flask import Blueprint, Response, jsonify, render_template, request, stream_with_context, url_for

from archive.errors import InvalidQuery
from archive.models import Hit
from archive.serialize import EXPORT_COLUMNS, hit_to_csv_row, hit_to_export, snippet_text

from .extension import get_archive
from .formatting import topic_label
from .search_state import BadParameter, SearchState, state_from_request

bp = Blueprint("exports", __name__)

FEED_ENTRIES = 50  # newest matches in a search's Atom feed


@bp.get("/export.csv")
def csv_export():
    return _export("csv", "text/csv", _csv_lines)  # Werkzeug adds the charset to text/* types


@bp.get("/export.jsonl")
def jsonl_export():
    return _export("jsonl", "application/x-ndjson; charset=utf-8", _json_lines)


@bp.get("/feed.atom")
def atom_feed():
    arch = get_archive()
    try:
        state = state_from_request(request.args, arch)
        query = replace(state.to_query(FEED_ENTRIES), sort="newest", page=1, per_page=FEED_ENTRIES)
        result = arch.search(query)
    except (BadParameter, InvalidQuery) as exc:
        return jsonify(error=str(exc)), 400
    entries = [
        {"hit": hit, "summary": snippet_text(hit.snippet), "updated": _timestamp(hit.date)} for hit in result.hits
    ]
    body = render_template(
        "feed.atom.xml",
        title=_feed_title(state),
        self_url=request.url,
        page_url=url_for("search.results", _external=True, **_params(state)),
        updated=max((e["updated"] for e in entries), default=_timestamp(None)),
        entries=entries,
        topic_label=topic_label,
    )
    return Response(body, mimetype="application/atom+xml")


def _export(kind: str, mimetype: str, lines) -> Response | tuple:
    arch = get_archive()
    try:
        state = state_from_request(request.args, arch)
        hits = arch.search_all(state.to_query(arch.config.per_page))  # every match: page and size unused
        first = next(hits, None)  # reads the query now, so that a bad one is a 400, not a broken download
    except (BadParameter, InvalidQuery) as exc:
        return jsonify(error=str(exc)), 400
    matches = chain([first], hits) if first is not None else iter(())
    response = Response(stream_with_context(lines(matches)), mimetype=mimetype)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    response.headers["Content-Disposition"] = f'attachment; filename="topic-archive-search-{stamp}.{kind}"'
    return response


def _csv_lines(hits: Iterator[Hit]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in chain([EXPORT_COLUMNS], map(hit_to_csv_row, hits)):
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _json_lines(hits: Iterator[Hit]) -> Iterator[str]:
    for hit in hits:
        yield json.dumps(hit_to_export(hit), ensure_ascii=False) + "\n"


def _params(state: SearchState) -> dict[str, list[str]]:
    params = replace(state, page=1, per_page=None).params()
    return {key: params.getlist(key) for key in params}


def _feed_title(state: SearchState) -> str:
    parts = [f"“{state.q}”"] if state.q else []
    parts += [topic_label(t) for t in state.topics]
    parts += [p for p in (state.source, state.language) if p]
    return "topic-archive: " + (", ".join(parts) if parts else "latest articles")


def _timestamp(date: str | None) -> str:
    """An Atom timestamp: the publication date at midnight UTC, or now for undated entries."""
    if date:
        return f"{date}T00:00:00Z"
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

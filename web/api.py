"""The JSON API: the same shapes as the command line's --json output (archive.serialize)."""

from __future__ import annotations

from functools import partial

from flask import Blueprint, jsonify, request

from archive.errors import ArticleNotFound, InvalidQuery
from archive.serialize import article_to_dict, outcome_to_dict, result_to_dict, similar_to_dict, source_to_dict
from ingest.pipeline import ingest_documents
from ingest.sources import RawDocument, SourceRef, is_url, pasted_text, read_bytes, read_source

from .extension import get_archive
from .search_state import BadParameter, state_from_request
from .security import csrf

bp = Blueprint("api", __name__, url_prefix="/api")

# A feed's cache validators: of use to the poller only, and not the public's business.
PRIVATE_SOURCE_FIELDS = ("etag", "last_modified")


@bp.get("/search")
def search():
    arch = get_archive()
    try:
        state = state_from_request(request.args, arch)
        result = arch.search(state.to_query(arch.config.per_page))
    except (BadParameter, InvalidQuery) as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(result_to_dict(result))


@bp.get("/sources")
def sources():
    """The followed sources, as `archive sources list --json` prints them but for the poller's private fields."""
    listed = [source_to_dict(source) for source in get_archive().sources.list()]
    return jsonify(sources=[{k: v for k, v in s.items() if k not in PRIVATE_SOURCE_FIELDS} for s in listed])


@bp.errorhandler(ArticleNotFound)
def not_found(exc: ArticleNotFound):
    return jsonify(error=str(exc)), 404


@bp.get("/articles/<article_id>/similar")
def similar(article_id: str):
    return jsonify(similar_to_dict(article_id, get_archive().similar(article_id)))


@bp.get("/articles/<article_id>")
def article(article_id: str):
    return jsonify(article_to_dict(get_archive().get(article_id)))


@bp.post("/articles")
@csrf.exempt  # scripts authenticate with a bearer token, not a session cookie: no CSRF to guard against
def create_article():
    """Ingest one URL, HTML page or text sent as JSON by a script holding an API token."""
    arch = get_archive()
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    name = arch.accounts.token_name(token) if token else None
    if name is None:
        response = jsonify(error="Send a valid API token: Authorization: Bearer <token> (see `archive token create`).")
        response.headers["WWW-Authenticate"] = 'Bearer realm="topic-archive"'
        return response, 401
    body = request.get_json(silent=True)
    try:
        origin, reader = _reader_for(body, arch.config)
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    outcomes = list(ingest_documents(arch, [(origin, reader)]))
    for outcome in outcomes:
        if outcome.status in {"added", "updated"}:
            arch.accounts.record(f"token:{name}", "ingest", outcome.id, f"{outcome.status}: {outcome.title}")
    statuses = {o.status for o in outcomes}
    code = 201 if "added" in statuses else 422 if statuses == {"failed"} else 200
    return jsonify(outcomes=[outcome_to_dict(o) for o in outcomes]), code


def _reader_for(body, config):
    """(origin, reader) for a JSON body holding "url", or "html" (and maybe "url"), or "title" and "text"."""
    if not isinstance(body, dict):
        raise ValueError('Send a JSON object with "url", or "html", or "title" and "text".')
    url, html, text = body.get("url"), body.get("html"), body.get("text")
    for key, value in (("url", url), ("html", html), ("text", text), ("title", body.get("title"))):
        if value is not None and not isinstance(value, str):
            raise ValueError(f'"{key}" must be a string.')
    if url is not None and not is_url(url):
        raise ValueError('"url" must start with http:// or https://.')
    if html:
        return url or "api.html", partial(_html_document, html, url, config)
    if text:
        if not (body.get("title") or "").strip():
            raise ValueError('Text needs a "title".')
        return "api text", partial(pasted_text, body["title"], text)
    if url:
        return url, partial(read_source, SourceRef(origin=url, url=url), config)
    raise ValueError('Send "url", or "html", or "title" and "text".')


def _html_document(html: str, url: str | None, config) -> RawDocument:
    raw = read_bytes("api.html", html.encode("utf-8"), config)
    raw.url = url
    return raw

"""The JSON API: the same shapes as the command line's --json output (archive.serialize)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from archive.errors import ArticleNotFound, InvalidQuery
from archive.serialize import article_to_dict, result_to_dict, similar_to_dict

from .extension import get_archive
from .search_state import BadParameter, state_from_request

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/search")
def search():
    arch = get_archive()
    try:
        state = state_from_request(request.args, arch)
        result = arch.search(state.to_query(arch.config.per_page))
    except (BadParameter, InvalidQuery) as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(result_to_dict(result))


@bp.get("/articles/<article_id>/similar")
def similar(article_id: str):
    try:
        found = get_archive().similar(article_id)
    except ArticleNotFound:
        return jsonify(error=f"No article has the id {article_id!r}."), 404
    return jsonify(similar_to_dict(article_id, found))


@bp.get("/articles/<article_id>")
def article(article_id: str):
    try:
        found = get_archive().get(article_id)
    except ArticleNotFound:
        return jsonify(error=f"No article has the id {article_id!r}."), 404
    return jsonify(article_to_dict(found))

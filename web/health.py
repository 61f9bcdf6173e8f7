"""A liveness check for load balancers and monitors."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .extension import get_archive

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 with the article count when the store answers; an error page otherwise."""
    return jsonify(status="ok", articles=get_archive().count())

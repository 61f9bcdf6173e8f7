"""The application factory: settings, the archive, blueprints, filters, headers and error pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from archive.models import SearchQuery

from . import api, articles, auth, curation, docs, errors, exports, formatting, health, search, security, sources
from .extension import init_archive


def check_on_start(app: Flask, arch) -> None:
    """Bring the index in line with the store before serving (a crash between the two leaves a gap)."""
    report = arch.check(repair=True)
    if report.repaired:
        app.logger.warning(
            "on start, the index was repaired: %d missing articles indexed, %d orphans removed",
            len(report.missing_from_index),
            len(report.orphans_in_index),
        )


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app.

    `config` holds Flask settings plus DATA_DIR (else $ARCHIVE_DATA, else ./archive-data) and
    ARCHIVE_SETTINGS (overrides for `archive.config.load_config`). The app opens one Archive,
    kept in `app.extensions["archive"]` and closed at exit (or by `extension.close_archive`).
    """
    app = Flask(__name__)
    app.config.from_mapping(config or {})
    app.json.sort_keys = False  # keep the contract's key order, as the CLI prints it

    arch = init_archive(app, app.config.get("DATA_DIR"), app.config.get("ARCHIVE_SETTINGS"))
    check_on_start(app, arch)
    arch.search(SearchQuery())  # the facet and date columns are read now, not on the first visitor's request
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # Flask's default is None: no limit
        app.config["MAX_CONTENT_LENGTH"] = arch.config.max_content_length

    blueprints = (search.bp, articles.bp, api.bp, exports.bp, health.bp, docs.bp, auth.bp, curation.bp, sources.bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    formatting.init_app(app)
    security.init_app(app, arch.config.data_dir)
    auth.init_app(app)
    errors.init_app(app)
    return app

"""The Flask web front end of topic-archive: search, articles and a JSON API."""

from .app import create_app

__all__ = ["create_app"]

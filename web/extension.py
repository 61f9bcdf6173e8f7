"""The one Archive each app holds: opened by the factory, reached by views, closed at exit."""

from __future__ import annotations

import atexit
import os
import weakref
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app

from archive.config import load_config
from archive.service import Archive

EXTENSION_KEY = "archive"


def init_archive(
    app: Flask, data_dir: str | os.PathLike | None = None, settings: Mapping[str, Any] | None = None
) -> Archive:
    """Open the archive at `data_dir` (None: $ARCHIVE_DATA or ./archive-data) and attach it to `app`."""
    config = load_config(data_dir, settings)
    arch = Archive(config.data_dir, config=config)
    app.extensions[EXTENSION_KEY] = arch
    # A weak reference, so that short-lived apps (tests) do not stay alive until exit.
    atexit.register(_close_at_exit, weakref.ref(app))
    return arch


def get_archive() -> Archive:
    """The archive of the app handling the current request."""
    return current_app.extensions[EXTENSION_KEY]


def close_archive(app: Flask) -> None:
    """Close the app's archive; safe to call more than once."""
    arch = app.extensions.pop(EXTENSION_KEY, None)
    if arch is not None:
        arch.close()


def _close_at_exit(app_ref: weakref.ref) -> None:
    app = app_ref()
    if app is not None:
        close_archive(app)

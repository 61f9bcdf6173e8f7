"""Every setting, declared once with its default and help; layered from defaults, file, environment."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

ENV_PREFIX = "ARCHIVE_"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", "Address `archive serve` listens on."),
    Setting("port", 5000, "Port `archive serve` listens on."),
    Setting("threads", 8, "Worker threads of the waitress server."),
    Setting("per_page", 10, "Search results per page unless the request asks otherwise."),
    Setting("max_per_page", 100, "Largest page size a request may ask for."),
    Setting("writer_timeout", 30.0, "Seconds a writer waits for the index lock before giving up."),
    Setting("max_input_bytes", 20_000_000, "Largest file or download the ingester reads, in bytes."),
    Setting("max_content_length", 20_000_000, "Largest web request body, in bytes."),
    Setting("max_fetch_bytes", 10_000_000, "Largest page or feed downloaded from a URL, in bytes."),
    Setting("fetch_timeout", 20.0, "Seconds allowed for one HTTP fetch."),
    Setting("fetch_allow_private", False, "Allow fetching URLs on private, loopback or link-local addresses."),
    Setting("extract_procs", 0, "Processes extracting a large ingest at once (0: one per core; 1: none apart)."),
    Setting("extraction_timeout", 30.0, "Seconds one page or file may take to extract (0: no limit; CLI only)."),
    Setting("feed_fetch_links", True, "Fetch the linked page of a feed entry that carries only a summary."),
    Setting(
        "read_requires_signin",
        "auto",
        "Whether reading needs sign-in: yes, no, or auto (yes unless served on a loopback address).",
    ),
    Setting("signin_attempts", 5, "Failed sign-ins allowed per account and address in 15 minutes."),
    Setting("user_agent", "topic-archive/0.1 (+https://example.org/topic-archive)", "User-Agent sent when fetching."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def default_data_dir() -> Path:
    """`$ARCHIVE_DATA` when set, else ./archive-data."""
    return Path(os.environ.get("ARCHIVE_DATA") or "archive-data")


@dataclass(frozen=True)
class Config:
    """Resolved settings for one archive."""

    data_dir: Path
    values: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "values")
        if name in values:
            return values[name]
        raise AttributeError(name)

    @property
    def store_path(self) -> Path:
        return self.data_dir / "archive.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def taxonomy_path(self) -> Path:
        return self.data_dir / "taxonomy.toml"

    @property
    def tag_model_path(self) -> Path:
        """The classifier `archive train` learnt from people's corrections, when it beat the lexicon."""
        return self.data_dir / "tag_model.json"


def _coerce(setting: Setting, raw: Any, origin: str) -> Any:
    kind = type(setting.default)
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    text = str(raw).strip()
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(text)
        return kind(text)
    except ValueError:
        raise ConfigError(f"setting {setting.name!r} from {origin} must be a {kind.__name__}, not {text!r}") from None


def load_config(data_dir: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Defaults, then DATA/config.toml, then ARCHIVE_* environment variables, then `overrides`."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    values = {s.name: s.default for s in SETTINGS}
    config_file = root / "config.toml"
    if config_file.is_file():
        try:
            from_file = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_file} is not valid TOML: {exc}") from None
        for name, raw in from_file.items():
            if name not in _BY_NAME:
                raise ConfigError(f"{config_file}: unknown setting {name!r}")
            values[name] = _coerce(_BY_NAME[name], raw, str(config_file))
    for setting in SETTINGS:
        env_name = ENV_PREFIX + setting.name.upper()
        if env_name in os.environ:
            values[setting.name] = _coerce(setting, os.environ[env_name], env_name)
    for name, raw in (overrides or {}).items():
        if name not in _BY_NAME:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = _coerce(_BY_NAME[name], raw, "the command line")
    return Config(data_dir=root, values=values)

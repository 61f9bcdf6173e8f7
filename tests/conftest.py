"""Shared fixtures: a fresh temporary archive per test, the seed articles, and an archive holding them."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.service import Archive

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
SEEDS = SHARED / "seeds"
CEOP_SEED = SEEDS / "000_c56bd95002079ab7.txt"
HYMAS_SEED = SEEDS / "004_b03aa456c916806a.txt"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def archive(data_dir: Path):
    arch = Archive(data_dir)
    yield arch
    arch.close()


@pytest.fixture
def seeded_archive(archive: Archive) -> Archive:
    from ingest.pipeline import ingest_sources

    outcomes = list(ingest_sources(archive, [str(SEEDS)]))
    assert [o.status for o in outcomes] == ["added", "added"], outcomes
    return archive


def make_app(data_dir: Path, **extra):
    """The web app in test mode over the archive at `data_dir`."""
    from web import create_app

    return create_app({"TESTING": True, "DATA_DIR": str(data_dir), **extra})


@pytest.fixture
def app(seeded_archive):
    from web.extension import close_archive

    app = make_app(seeded_archive.config.data_dir)
    yield app
    close_archive(app)


@pytest.fixture
def client(app):
    return app.test_client()

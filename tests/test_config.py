"""Settings: declared once, layered defaults < config.toml < environment < overrides."""

import pytest

from archive.config import SETTINGS, load_config
from archive.errors import ConfigError


def test_defaults_apply_without_file_or_environment(tmp_path):
    config = load_config(tmp_path)
    for setting in SETTINGS:
        assert getattr(config, setting.name) == setting.default
    assert config.store_path == tmp_path / "archive.sqlite3"
    assert config.index_dir == tmp_path / "index"


def test_layers_file_then_environment_then_overrides(tmp_path, monkeypatch):
    (tmp_path / "config.toml").write_text("port = 6000\nper_page = 20\nfetch_allow_private = false\n")
    monkeypatch.setenv("ARCHIVE_PER_PAGE", "30")
    monkeypatch.setenv("ARCHIVE_FETCH_ALLOW_PRIVATE", "yes")
    config = load_config(tmp_path, {"port": "7000"})
    assert config.port == 7000
    assert config.per_page == 30
    assert config.fetch_allow_private is True


def test_data_directory_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHIVE_DATA", str(tmp_path / "elsewhere"))
    assert load_config().data_dir == tmp_path / "elsewhere"


@pytest.mark.parametrize(
    "content, message",
    [("port = 'abc'", "must be a int"), ("colour = 'red'", "unknown setting"), ("port = [", "not valid TOML")],
)
def test_bad_config_file_is_one_clear_error(tmp_path, content, message):
    (tmp_path / "config.toml").write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path)


def test_every_setting_has_help_text():
    assert all(s.help.strip() for s in SETTINGS)
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)

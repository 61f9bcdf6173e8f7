"""The topics: shipped file, the user's override, and refusal of broken files."""

import pytest

from archive.errors import ConfigError
from archive.models import TOPICS
from archive.taxonomy import load_taxonomy, parse_taxonomy, shipped_taxonomy_text


def test_shipped_taxonomy_has_the_four_topics_with_definitions_and_terms():
    taxonomy = load_taxonomy()
    assert taxonomy.names == list(TOPICS)
    for topic in taxonomy.topics:
        assert topic.label and len(topic.definition) > 40
        assert 0 < topic.threshold < 1
        assert len(topic.terms) >= 20


def test_user_taxonomy_overrides_the_shipped_one(tmp_path):
    text = shipped_taxonomy_text().replace('label = "Policy"', 'label = "Law and regulation"')
    (tmp_path / "taxonomy.toml").write_text(text)
    assert load_taxonomy(tmp_path / "taxonomy.toml").label("policy") == "Law and regulation"
    assert load_taxonomy(tmp_path / "missing.toml").label("policy") == "Policy"


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda t: t.replace("[prevention]", "[prevent]"), "prevent"),
        (lambda t: t + "\n[weather]\nlabel = 'x'\n[weather.terms]\nrain = 1\n", "unknown topics"),
        (lambda t: t.replace('"nspcc" = 3.0', '"nspcc" = "high"'), "numeric weights"),
        (lambda t: t + "\n[[", "not valid TOML"),
    ],
)
def test_broken_taxonomy_files_are_refused_clearly(mangle, message):
    with pytest.raises(ConfigError, match=message):
        parse_taxonomy(mangle(shipped_taxonomy_text()), "test.toml")


def test_label_of_an_unknown_topic_is_its_name():
    assert load_taxonomy().label("weather") == "weather"

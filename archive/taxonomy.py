"""The topics: names, labels, definitions, thresholds and weighted terms, from the shipped TOML file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .errors import ConfigError
from .models import OFF_TOPIC, TOPICS


@dataclass(frozen=True)
class Topic:
    name: str
    label: str
    definition: str
    threshold: float
    # term -> weight; a trailing "*" makes a prefix ("prosecut*"), spaces match any whitespace
    terms: dict[str, float] = field(default_factory=dict)
    # Setting words (an app, a school, a court): they add to a topic only once one of its terms is found
    context: dict[str, float] = field(default_factory=dict)

    def weight(self, term: str) -> float | None:
        weight = self.terms.get(term)
        return self.context.get(term) if weight is None else weight


RELEVANCE = "relevance"  # the table of terms that say an article is about child protection at all


@dataclass(frozen=True)
class Taxonomy:
    topics: list[Topic]
    origin: str
    # Scored like a topic; an article below its threshold is unrelated and gets no topic. None: no such test.
    relevance: Topic | None = None

    def get(self, name: str) -> Topic:
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise KeyError(name)

    def label(self, name: str) -> str:
        if name == OFF_TOPIC:
            return "Off-topic"
        try:
            return self.get(name).label
        except KeyError:
            return name

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.topics]


def shipped_taxonomy_text() -> str:
    return resources.files("archive").joinpath("taxonomy.toml").read_text(encoding="utf-8")


def parse_taxonomy(text: str, origin: str) -> Taxonomy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin} is not valid TOML: {exc}") from None
    topics = []
    for name in TOPICS:
        entry = data.get(name)
        if not isinstance(entry, dict):
            raise ConfigError(f"{origin} has no [{name}] table")
        topics.append(_topic(name, entry, origin))
    unknown = set(data) - set(TOPICS) - {RELEVANCE}
    if unknown:
        raise ConfigError(f"{origin}: unknown topics {sorted(unknown)}; the topics are {list(TOPICS)}")
    relevance = data.get(RELEVANCE)
    if relevance is not None and not isinstance(relevance, dict):
        raise ConfigError(f"{origin}: [{RELEVANCE}] must be a table")
    return Taxonomy(topics=topics, origin=origin, relevance=_topic(RELEVANCE, relevance, origin) if relevance else None)


def _topic(name: str, entry: dict, origin: str) -> Topic:
    return Topic(
        name=name,
        label=str(entry.get("label", name)),
        definition=" ".join(str(entry.get("definition", "")).split()),
        threshold=float(entry.get("threshold", 0.5)),
        terms=_weights(entry, "terms", name, origin, required=True),
        context=_weights(entry, "context", name, origin, required=False),
    )


def _weights(entry: dict, key: str, name: str, origin: str, required: bool) -> dict[str, float]:
    table = entry.get(key, {})
    valid = isinstance(table, dict) and all(isinstance(w, (int, float)) for w in table.values())
    if not valid or (required and not table):
        raise ConfigError(f"{origin}: [{name}.{key}] must map terms to numeric weights")
    return {str(t).lower(): float(w) for t, w in table.items()}


def load_taxonomy(override: Path | None = None) -> Taxonomy:
    """The user's taxonomy.toml when it exists, else the shipped one."""
    if override is not None and override.is_file():
        return parse_taxonomy(override.read_text(encoding="utf-8"), str(override))
    return parse_taxonomy(shipped_taxonomy_text(), "the shipped taxonomy")

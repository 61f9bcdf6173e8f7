"""Topic tagging from the taxonomy's weighted terms: a score per topic, a threshold, and the evidence."""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass

from archive.models import Evidence, TopicScore
from archive.taxonomy import Taxonomy

TITLE_WEIGHT = 2.0  # an occurrence in the headline counts this many times
LEAD_WEIGHT = 1.5  # ... in the first paragraph
REFERENCE_WORDS = 500  # longer articles need proportionally more evidence (square-root scaling)
SATURATION = 6.0  # raw evidence at which a score reaches 1 - 1/e
SINGLE_TERM_FACTOR = 0.5  # one distinct term is weak evidence, however often it occurs

_SENTENCES = re.compile(r"[^.!?\n]+(?:[.!?]+[\"”’)]*|$)")


def fold(text: str) -> str:
    """Lower case without accents, same length as the input so match offsets stay valid."""
    decomposed = (unicodedata.normalize("NFD", ch) for ch in text.lower())
    return "".join(d[0] if d else " " for d in decomposed)


def _term_pattern(term: str) -> str:
    prefix = term.endswith("*")
    words = fold(term.rstrip("*")).split()
    body = r"[\s\-]+".join(re.escape(w) for w in words)
    return r"\b" + body + (r"\w*" if prefix else r"\b")


@dataclass
class _Match:
    term: str
    surface: str
    start: int
    zone_weight: float


class Tagger:
    """Scores an article's title and body against every topic of a taxonomy."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.weights: dict[str, dict[str, float]] = defaultdict(dict)  # term -> topic -> weight
        for topic in taxonomy.topics:
            for term, weight in topic.terms.items():
                self.weights[term][topic.name] = weight
        # Longest terms first, so at each position the longest matching term wins.
        terms = sorted(self.weights, key=lambda t: (-len(t.rstrip("*")), t))
        self._names = {f"t{i}": term for i, term in enumerate(terms)}
        self._regex = re.compile("|".join(f"(?P<t{i}>{_term_pattern(t)})" for i, t in enumerate(terms)))

    def _matches(self, title: str, body: str) -> list[_Match]:
        found = []
        for m in self._regex.finditer(fold(title)):
            found.append(_Match(self._names[m.lastgroup], title[m.start() : m.end()], -1, TITLE_WEIGHT))
        lead_end = body.find("\n\n")
        lead_end = len(body) if lead_end < 0 else lead_end
        for m in self._regex.finditer(fold(body)):
            weight = LEAD_WEIGHT if m.start() < lead_end else 1.0
            found.append(_Match(self._names[m.lastgroup], body[m.start() : m.end()], m.start(), weight))
        return found

    def score(self, title: str, body: str) -> list[TopicScore]:
        """One TopicScore per topic of the taxonomy, in taxonomy order."""
        matches = self._matches(title, body)
        words = max(1, len(body.split()) + len(title.split()))
        length_factor = max(1.0, math.sqrt(words / REFERENCE_WORDS))
        sentences = [(m.start(), m.group().strip()) for m in _SENTENCES.finditer(body)]
        starts = [s for s, _ in sentences]
        scores = []
        for topic in self.taxonomy.topics:
            weighted: dict[str, float] = defaultdict(float)  # term -> zone-weighted occurrences
            surfaces: dict[str, int] = defaultdict(int)  # surface form (lower case) -> count
            surface_term: dict[str, str] = {}
            sentence_weight: dict[int, float] = defaultdict(float)
            for match in matches:
                weight = self.weights[match.term].get(topic.name)
                if weight is None:
                    continue
                weighted[match.term] += match.zone_weight
                key = match.surface.lower()
                surfaces[key] += 1
                surface_term[key] = match.term
                if match.start >= 0 and sentences:
                    sentence_weight[bisect_right(starts, match.start) - 1] += weight
            raw = sum(
                topic.terms[t] * (1 + math.log(n)) if n >= 1 else topic.terms[t] * n for t, n in weighted.items()
            )
            value = 1 - math.exp(-(raw / length_factor) / SATURATION)
            if len(weighted) == 1:
                value *= SINGLE_TERM_FACTOR
            evidence = sorted(
                (Evidence(term=s, count=c) for s, c in surfaces.items()),
                key=lambda e: (-topic.terms[surface_term[e.term]] * e.count, e.term),
            )
            best = max(sentence_weight, key=lambda i: (sentence_weight[i], -i), default=None)
            scores.append(
                TopicScore(
                    topic=topic.name,
                    score=round(value, 4),
                    assigned=value >= topic.threshold,
                    evidence=evidence,
                    sentence=sentences[best][1] if best is not None else "",
                )
            )
        return scores

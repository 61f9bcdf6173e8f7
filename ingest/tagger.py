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
SATURATION = 7.0  # raw evidence at which a score reaches 1 - 1/e (tuned on samples and seeds)
SINGLE_TERM_FACTOR = 0.5  # one distinct term is weak evidence, however often it occurs

_SENTENCES = re.compile(r"[^.!?\n]+(?:[.!?]+[\"”’)]*|$)")


def fold(text: str) -> str:
    """Lower case without accents, same length as the input so match offsets stay valid."""
    decomposed = (unicodedata.normalize("NFD", ch) for ch in text.lower())
    return "".join(d[0] if d else " " for d in decomposed)


_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class _Term:
    text: str  # as written in the taxonomy, e.g. "tech compan*"
    words: tuple[str, ...]  # folded words; the last one is a prefix when `prefix`
    prefix: bool

    @property
    def length(self) -> int:
        return len(self.text.rstrip("*"))

    def matches(self, tokens: list[str], i: int) -> bool:
        n = len(self.words)
        if i + n > len(tokens):
            return False
        if tokens[i : i + n - 1] != list(self.words[:-1]):
            return False
        last = tokens[i + n - 1]
        return last.startswith(self.words[-1]) if self.prefix else last == self.words[-1]


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
        # Candidate terms by their first word; a one-word prefix term is found by its prefix instead.
        self._by_first: dict[str, list[_Term]] = defaultdict(list)
        self._by_prefix: dict[str, _Term] = {}
        for text in self.weights:
            words = tuple(_TOKEN.findall(fold(text.rstrip("*"))))
            term = _Term(text, words, text.endswith("*"))
            if term.prefix and len(words) == 1:
                self._by_prefix[words[0]] = term
            else:
                self._by_first[words[0]].append(term)
        self._prefix_lengths = sorted({len(p) for p in self._by_prefix}, reverse=True)

    def _candidates(self, token: str) -> list[_Term]:
        found = list(self._by_first.get(token, ()))
        for n in self._prefix_lengths:
            term = self._by_prefix.get(token[:n]) if len(token) >= n else None
            if term is not None:
                found.append(term)
        return found

    def _scan(self, text: str, zone_weight, offset: bool) -> list[_Match]:
        """Terms in `text`, left to right; at each place only the longest matching term counts."""
        folded = fold(text)
        spans = [(m.start(), m.end()) for m in _TOKEN.finditer(folded)]
        tokens = [folded[a:b] for a, b in spans]
        found = []
        i = 0
        while i < len(tokens):
            best = max(
                (t for t in self._candidates(tokens[i]) if t.matches(tokens, i)), key=lambda t: t.length, default=None
            )
            if best is None:
                i += 1
                continue
            start, end = spans[i][0], spans[i + len(best.words) - 1][1]
            found.append(_Match(best.text, text[start:end], start if offset else -1, zone_weight(start)))
            i += len(best.words)
        return found

    def _matches(self, title: str, body: str) -> list[_Match]:
        lead_end = body.find("\n\n")
        lead_end = len(body) if lead_end < 0 else lead_end
        return self._scan(title, lambda _: TITLE_WEIGHT, offset=False) + self._scan(
            body, lambda start: LEAD_WEIGHT if start < lead_end else 1.0, offset=True
        )

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
            raw = sum(topic.terms[t] * (1 + math.log(n)) if n >= 1 else topic.terms[t] * n for t, n in weighted.items())
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

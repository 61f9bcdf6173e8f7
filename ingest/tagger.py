"""Topic tagging from the taxonomy's weighted terms: a score per topic, a threshold, and the evidence."""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass

from archive.models import Evidence, TopicScore
from archive.taxonomy import Taxonomy, Topic

TITLE_WEIGHT = 2.0  # an occurrence in the headline counts this many times
LEAD_WEIGHT = 1.5  # ... in the first paragraph
REFERENCE_WORDS = 500  # longer articles need proportionally more evidence (square-root scaling)
SATURATION = 7.0  # raw evidence at which a score reaches 1 - 1/e (tuned on samples and seeds)
SINGLE_TERM_FACTOR = 0.5  # one distinct term is weak evidence, however often it occurs
PASSING_MENTION_FACTOR = 0.6  # terms confined to one sentence of the body, not in the headline: a passing mention

CANDIDATE_CACHE = 200_000  # distinct words whose candidate terms are remembered

_SENTENCES = re.compile(r"[^.!?\n]+(?:[.!?]+[\"”’)]*|$)")


class _FoldTable(dict):
    """str.translate table, filled as characters are met: each character lower-cased, its accents
    dropped, always exactly one character (so offsets in the folded text are offsets in the original)."""

    def __missing__(self, code: int) -> str:
        decomposed = unicodedata.normalize("NFD", chr(code).lower())
        self[code] = folded = decomposed[0] if decomposed else " "
        return folded


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """Lower case without accents, same length as the input so match offsets stay valid."""
    return text.translate(_FOLD)


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


class _Tokens:
    """A text folded and split into words once, for every lexicon that scans it."""

    def __init__(self, text: str) -> None:
        self.text = text
        lead_end = text.find("\n\n")  # the first paragraph, which counts more
        self.lead_end = len(text) if lead_end < 0 else lead_end
        folded = fold(text)
        self.spans = [(m.start(), m.end()) for m in _TOKEN.finditer(folded)]
        self.tokens = [folded[a:b] for a, b in self.spans]


@dataclass
class _Match:
    term: str
    surface: str
    start: int  # offset in the body; -1 in the title
    zone_weight: float


class _Lexicon:
    """Weighted terms of named groups (topics), found left to right; at each place the longest term wins."""

    def __init__(self, groups: list[Topic]) -> None:
        self.weights: dict[str, dict[str, float]] = defaultdict(dict)  # term -> group -> weight
        for group in groups:
            for term, weight in (group.context | group.terms).items():
                self.weights[term][group.name] = weight
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
        self._cache: dict[str, list[_Term]] = {}  # token -> the terms that may start at it

    def _candidates(self, token: str) -> list[_Term]:
        found = self._cache.get(token)
        if found is None:
            found = list(self._by_first.get(token, ()))
            for n in self._prefix_lengths:
                term = self._by_prefix.get(token[:n]) if len(token) >= n else None
                if term is not None:
                    found.append(term)
            if len(self._cache) >= CANDIDATE_CACHE:
                self._cache.clear()
            self._cache[token] = found
        return found

    def _scan(self, text: _Tokens, zone_weight, offset: bool) -> list[_Match]:
        spans, tokens = text.spans, text.tokens
        found = []
        i = 0
        while i < len(tokens):
            candidates = self._candidates(tokens[i])
            if not candidates:
                i += 1
                continue
            best = max((t for t in candidates if t.matches(tokens, i)), key=lambda t: t.length, default=None)
            if best is None:
                i += 1
                continue
            start, end = spans[i][0], spans[i + len(best.words) - 1][1]
            found.append(_Match(best.text, text.text[start:end], start if offset else -1, zone_weight(start)))
            i += len(best.words)
        return found

    def matches(self, title: _Tokens, body: _Tokens) -> list[_Match]:
        return self._scan(title, lambda _: TITLE_WEIGHT, offset=False) + self._scan(
            body, lambda start: LEAD_WEIGHT if start < body.lead_end else 1.0, offset=True
        )


@dataclass(frozen=True)
class Tagging:
    """The tagger's verdict on one article."""

    scores: list[TopicScore]  # one per topic, in taxonomy order
    relevance: float  # how much the article is about child protection at all, in [0, 1]
    unrelated: bool  # below the relevance threshold: no topic is assigned


class _Text:
    """An article prepared for scoring: its sentences and its length factor."""

    def __init__(self, title: str, body: str) -> None:
        words = max(1, len(body.split()) + len(title.split()))
        self.length_factor = max(1.0, math.sqrt(words / REFERENCE_WORDS))
        self.sentences = [(m.start(), m.group().strip()) for m in _SENTENCES.finditer(body)]
        self.starts = [s for s, _ in self.sentences]

    def sentence_of(self, offset: int) -> int:
        return bisect_right(self.starts, offset) - 1


class Tagger:
    """Scores an article's title and body against every topic of a taxonomy, after a relevance test."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._topics = _Lexicon(taxonomy.topics)
        self._relevance = _Lexicon([taxonomy.relevance] if taxonomy.relevance else [])

    def score(self, title: str, body: str) -> list[TopicScore]:
        """One TopicScore per topic of the taxonomy, in taxonomy order."""
        return self.tag(title, body).scores

    def tag(self, title: str, body: str) -> Tagging:
        text = _Text(title, body)
        title_tokens, body_tokens = _Tokens(title), _Tokens(body)
        relevance, unrelated = 1.0, False
        if self.taxonomy.relevance is not None:
            verdict = _score(self.taxonomy.relevance, self._relevance.matches(title_tokens, body_tokens), text)
            relevance, unrelated = verdict.score, not verdict.assigned
        matches = self._topics.matches(title_tokens, body_tokens)
        scores = [_score(topic, matches, text) for topic in self.taxonomy.topics]
        if unrelated:
            for s in scores:
                s.assigned = False
        return Tagging(scores=scores, relevance=relevance, unrelated=unrelated)


def _score(topic: Topic, matches: list[_Match], text: _Text) -> TopicScore:
    """The topic's score from the terms found: zone-weighted, saturating, scaled down for long articles,
    for a single distinct term and for terms confined to one sentence (a passing mention). Context terms
    count only when a term of the topic itself is found."""
    weighted: dict[str, float] = defaultdict(float)  # term -> zone-weighted occurrences
    surfaces: dict[str, int] = defaultdict(int)  # surface form (lower case) -> count
    surface_term: dict[str, str] = {}
    sentence_weight: dict[int, float] = defaultdict(float)
    in_title = False
    found = [m for m in matches if topic.weight(m.term) is not None]
    if not any(m.term in topic.terms and topic.terms[m.term] > 0 for m in found):
        found = []
    for match in found:
        weight = topic.weight(match.term)
        weighted[match.term] += match.zone_weight
        key = match.surface.lower()
        surfaces[key] += 1
        surface_term[key] = match.term
        if match.start < 0:
            in_title = True
        elif text.sentences:
            sentence_weight[text.sentence_of(match.start)] += weight
    raw = sum(topic.weight(t) * (1 + math.log(n)) if n >= 1 else topic.weight(t) * n for t, n in weighted.items())
    value = 1 - math.exp(-(max(raw, 0.0) / text.length_factor) / SATURATION)
    if len([t for t in weighted if topic.weight(t) > 0]) == 1:
        value *= SINGLE_TERM_FACTOR
    if not in_title and len(sentence_weight) == 1:
        value *= PASSING_MENTION_FACTOR
    evidence = sorted(
        (Evidence(term=s, count=c) for s, c in surfaces.items() if topic.weight(surface_term[s]) > 0),
        key=lambda e: (-topic.weight(surface_term[e.term]) * e.count, e.term),
    )
    best = max(sentence_weight, key=lambda i: (sentence_weight[i], -i), default=None)
    return TopicScore(
        topic=topic.name,
        score=round(value, 4),
        assigned=value >= topic.threshold,
        evidence=evidence,
        sentence=text.sentences[best][1] if best is not None else "",
    )

"""Phrases answered from word pairs.

Whoosh matches a phrase by reading word positions in every document that holds all its words: for
"online safety" in a large archive on online safety, nearly every document. So the index also holds
each pair of adjacent stems as one term ("onlin safeti") in a pairs field beside the title and the
body, and a two-word phrase is asked as that single term. A longer phrase asks for each of its pairs
and is then checked by Whoosh's own phrase matcher, only in the few documents holding all of them.

The pairs come from the same analysis as the words (stop words out and positions renumbered, as
Whoosh's phrase matching sees them), so a pair term matches exactly where the two-word phrase does.
The body's stems are remembered when its field is indexed, so the pairs do not analyse it again.
"""

from __future__ import annotations

import itertools
import threading

from whoosh.analysis import Analyzer, Token
from whoosh.query import And, Phrase, Query, Term

PAIRED_FIELDS = {"body": "pairs", "title": "title_pairs"}  # a text field and the field of its word pairs
_REMEMBERED = 4  # texts whose stems are kept, per thread: a document's title and body
_recent = threading.local()


class RememberingAnalyzer(Analyzer):
    """An analyzer that, when indexing, notes the terms it gives each text for the pairs field."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer

    def __call__(self, value: str, **kwargs):
        tokens = self.analyzer(value, **kwargs)
        if kwargs.get("mode") != "index":
            return tokens
        return self._noting(value, tokens)

    @staticmethod
    def _noting(value: str, tokens):
        texts = []
        for token in tokens:
            texts.append(token.text)
            yield token
        remembered = getattr(_recent, "stems", None)
        if remembered is None or len(remembered) >= _REMEMBERED:
            remembered = _recent.stems = {}
        remembered[value] = texts


class PairsAnalyzer(Analyzer):
    """Each pair of adjacent terms of a text, as one token ("onlin safeti")."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer

    def __call__(self, value: str, positions: bool = False, chars: bool = False, mode: str = "", **kwargs):
        texts = getattr(_recent, "stems", {}).get(value) if mode == "index" else None
        if texts is None:
            texts = [t.text for t in self.analyzer(value, mode=mode)]
        token = Token(positions=positions, chars=chars, mode=mode)
        for position, (first, second) in enumerate(itertools.pairwise(texts)):
            token.text = f"{first} {second}"
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = position
            yield token


class CheckedPhrase(Phrase):
    """A phrase of three or more words, checked by Whoosh only in the documents holding all its pairs.

    It adds nothing to a score: the pair terms beside it carry the ranking."""

    def pairs(self) -> list[Term]:
        return pair_terms(self.fieldname, self.words)


def pair_terms(fieldname: str, words, boost: float = 1.0) -> list[Term]:
    field = PAIRED_FIELDS[fieldname]
    return [Term(field, f"{a} {b}", boost=boost) for a, b in itertools.pairwise(words)]


def phrases_as_pairs(query: Query) -> Query:
    """The query with each exact title or body phrase asked of the pairs fields.

    A phrase with slop (words apart) stays a Whoosh phrase."""
    if (
        isinstance(query, Phrase)
        and not isinstance(query, CheckedPhrase)
        and query.fieldname in PAIRED_FIELDS
        and query.slop == 1
        and len(query.words) > 1
    ):
        pairs = pair_terms(query.fieldname, query.words, boost=query.boost)
        if len(pairs) == 1:
            return pairs[0]
        return And([*pairs, CheckedPhrase(query.fieldname, query.words, char_ranges=query.char_ranges)])
    return query.apply(phrases_as_pairs)

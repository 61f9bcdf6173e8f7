"""How text becomes index terms: the Whoosh analyzers of the schema, and the same reading done a
whole text at a time for the bulk writer (tests hold the two to exactly the same terms)."""

from __future__ import annotations

import re
from collections import defaultdict

from whoosh.analysis import STOP_WORDS, CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.lang.porter import stem
from whoosh.support.charset import accent_map

# Accent folding before stemming, so "Europäische" and "Europaische" meet, and "arrests" finds "arrested".
SPELLING_ANALYZER = RegexTokenizer() | LowercaseFilter() | CharsetFilter(accent_map) | StopFilter()
TEXT_ANALYZER = SPELLING_ANALYZER | StemFilter()
NAME_ANALYZER = RegexTokenizer() | LowercaseFilter() | CharsetFilter(accent_map)
# The index field of each distinct word as SPELLING_ANALYZER reads it: did-you-mean's and fuzzy terms' word list
WORDS_FIELD = "words"

# RegexTokenizer's tokens ("*" counts as a letter, for wildcards): its pattern `[\w\*]+(\.?[\w\*]+)*`
# matches the same, greedily, as this one, which never backtracks and has no group for findall to return.
_TOKEN = re.compile(r"[\w*]+(?:\.[\w*]+)*")
_MIN_WORD = 2  # StopFilter's default minimum length
_READINGS = 500_000  # distinct tokens remembered (a token and its word and term: about 200 bytes each)


def read_token(token: str) -> tuple[str, str] | None:
    """A token as the analyzers read it: (word, term), the word lower case and accent-folded (the
    spelling analyzer's output) and the term its stem (the text analyzer's); None for a stop word."""
    word = token.lower().translate(accent_map)
    if len(word) < _MIN_WORD or word in STOP_WORDS:
        return None
    return word, stem(word)


class _Readings(dict):
    """Tokens already read (a lookup in C for those seen before), forgotten all at once when full."""

    def __missing__(self, token: str) -> tuple[str, str] | None:
        if len(self) >= _READINGS:
            self.clear()
        reading = self[token] = read_token(token)
        return reading


_reading = _Readings().__getitem__


def term_positions(text: str, words: set[str] | None = None) -> dict[str, list[int]]:
    """Each term of `text` with the positions TEXT_ANALYZER gives it (stop words leave no gap, but
    the first kept token keeps its place); adds the text's words to `words` when given."""
    positions: dict[str, list[int]] = defaultdict(list)
    readings = list(map(_reading, _TOKEN.findall(text)))
    first = next((i for i, r in enumerate(readings) if r is not None), 0)
    kept = [r for r in readings if r is not None]
    for position, (_word, term) in enumerate(kept, start=first):
        positions[term].append(position)
    if words is not None:
        words.update(dict(kept))
    return positions


def distinct_words(text: str) -> set[str]:
    """The distinct words of a text as SPELLING_ANALYZER reads them."""
    return {r[0] for r in map(_reading, _TOKEN.findall(text)) if r is not None}

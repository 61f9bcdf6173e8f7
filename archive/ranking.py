"""Relevance and date order over whole posting lists at once.

Whoosh scores one posting per Python call, which at 100,000 articles makes a common word cost
hundreds of milliseconds. For the query shapes the parser makes from words (terms, AND, OR, NOT,
+required, prefixes, wildcards, fuzzy terms) the same BM25F scores come from Whoosh's own formula
(`whoosh.scoring.bm25`), statistics (idf, average field length) and per-document length bytes,
applied to a cached posting list as one numpy expression. Any other part of a query (a phrase, a
range) is scored by Whoosh once per searcher and added in, as Whoosh's AND and OR add their parts.
Tests hold this ranking to Whoosh's, query by query.
"""

from __future__ import annotations

import numpy as np
from whoosh.query import And, AndMaybe, AndNot, FuzzyTerm, Not, NullQuery, Or, Phrase, Prefix, Query, Term, Wildcard
from whoosh.scoring import BM25F, bm25

from .columns import SearcherCache


def scores(cache: SearcherCache, query: Query) -> np.ndarray | None:
    """Each document's BM25F score for `query` as Whoosh would give it (0 where it does not match),
    or None when the searcher does not weigh by BM25F."""
    if not isinstance(cache.searcher.weighting, BM25F):
        return None
    return _score(cache, query)


def _score(cache: SearcherCache, query: Query) -> np.ndarray:
    if isinstance(query, Term):
        return _term(cache, query.fieldname, query.text) * query.boost
    if isinstance(query, (Prefix, Wildcard, FuzzyTerm)):  # scored as the OR of the words they expand to
        expanded = query.expanded_terms(cache.searcher.reader())
        return sum((_term(cache, field, text) for field, text in expanded), np.zeros(cache.size)) * query.boost
    if (
        isinstance(query, (And, Or))
        and query.boost == 1
        and not getattr(query, "minmatch", 0)
        and not getattr(query, "scale", None)
    ):
        return sum((_score(cache, q) for q in query.subqueries), np.zeros(cache.size))
    if isinstance(query, AndNot):  # the excluded part adds nothing to the score
        return _score(cache, query.a)
    if isinstance(query, AndMaybe):  # the optional part adds to documents that match the required one
        return _score(cache, query.a) + _score(cache, query.b)
    if isinstance(query, Not):  # Whoosh's inverse matcher: 1 for every document it lets through
        return (cache.live() & ~cache.matching(query.query)).astype(np.float64)
    if query is NullQuery:
        return np.zeros(cache.size)
    if isinstance(query, Phrase) and (found := cache.phrase(query)) is not None:
        # Whoosh scores a phrase as the AND of its words (each occurrence in the phrase adds its score)
        words = sum((_term(cache, query.fieldname, word) for word in query.words), np.zeros(cache.size))
        return np.where(found, words, 0.0) * query.boost
    # Anything else (a phrase, a range, a boosted group): Whoosh scores that part, once per searcher.
    # Whoosh's AND and OR add up their parts' scores, so the sum above still gives its ranking.
    return cache.whoosh_scored(query)[1]


def _term(cache: SearcherCache, fieldname: str, text) -> np.ndarray:
    searcher = cache.searcher
    ids, weights = cache.postings(fieldname, text)
    found = np.zeros(cache.size)
    if not len(ids):
        return found
    if not searcher.schema[fieldname].scorable:  # Whoosh's WeightScorer: the posting's weight
        found[ids] = weights
        return found
    weighting = searcher.weighting
    b = weighting._field_B.get(fieldname, weighting.B)
    avgfl = searcher.avg_field_length(fieldname) or 1
    lengths = cache.lengths(fieldname)[ids]
    found[ids] = bm25(searcher.idf(fieldname, text), weights, lengths, avgfl, b, weighting.K1)
    return found


def by_score(mask: np.ndarray, score: np.ndarray, limit: int) -> list[tuple[float, int]]:
    """The best `limit` (score, document number) pairs of the mask, highest score first and, as
    Whoosh orders them, the lower document number first among equal scores."""
    docs = np.flatnonzero(mask)
    docs, negated = _top(docs, -score[docs], limit)
    order = np.lexsort((docs, negated))[:limit]
    return [(float(-negated[i]), int(docs[i])) for i in order]


def by_date(mask: np.ndarray, dated: np.ndarray, dates: np.ndarray, limit: int, newest: bool) -> list[int]:
    """The first `limit` document numbers of the mask in date order: dated articles first (newest or
    oldest first), then undated ones; the lower document number first on the same date."""
    docs = np.flatnonzero(mask)
    late = np.iinfo(np.int64).max
    if newest:  # undated ones sort as the oldest
        key = np.where(dated[docs], -dates[docs], late)
    else:
        key = np.where(dated[docs], dates[docs], late)
    docs, key = _top(docs, key, limit)
    return docs[np.lexsort((docs, key))][:limit].tolist()


def _top(docs: np.ndarray, key: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The documents whose key is among the `limit` smallest, with every one tied at the boundary."""
    if len(docs) <= limit:
        return docs, key
    boundary = np.partition(key, limit - 1)[limit - 1]
    keep = key <= boundary
    return docs[keep], key[keep]

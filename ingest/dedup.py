"""Fingerprints that find the same article text again, whatever its spacing, case or punctuation."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_NON_WORD = re.compile(r"[\W_]+")


def normalized_for_fingerprint(body: str) -> str:
    # Case folding can leave decomposed letters ("ΐ" folds to ι + two combining marks); normalising
    # again composes them, so upper- and lower-case texts meet (Unicode's compatibility caseless match).
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", body).casefold())
    return _NON_WORD.sub(" ", text).strip()


def fingerprint(body: str) -> str:
    """SHA-256 of the body's words: equal for texts that differ only in case, spacing or punctuation."""
    return hashlib.sha256(normalized_for_fingerprint(body).encode("utf-8")).hexdigest()

"""ingest.dedup: fingerprints equal for the same words, whatever the case, spacing or punctuation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.dedup import fingerprint, normalized_for_fingerprint

BASE = "Police arrested 12 men in an online grooming inquiry, the force said on Monday."


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(BASE.upper(), id="upper case"),
        pytest.param(BASE.lower(), id="lower case"),
        pytest.param("  " + BASE.replace(" ", "   ") + "\n\n", id="extra spaces"),
        pytest.param(BASE.replace(" ", "\n"), id="line breaks"),
        pytest.param(BASE.replace(", ", " \u2014 ").replace(".", "!"), id="punctuation"),
        pytest.param(BASE.replace(" ", "\u00a0"), id="no-break spaces"),
        pytest.param("“" + BASE + "”", id="curly quotes"),
        pytest.param(BASE.replace("12", "\uff11\uff12"), id="full-width digits (NFKC)"),
    ],
)
def test_same_words_same_fingerprint(variant: str) -> None:
    assert fingerprint(variant) == fingerprint(BASE)


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(BASE.replace("12", "13"), id="another number"),
        pytest.param(BASE.replace("men", "women"), id="another word"),
        pytest.param(BASE.replace("Monday", ""), id="a word missing"),
        pytest.param(BASE.replace("online grooming", "grooming online"), id="word order"),
        pytest.param(BASE.replace("grooming", "groom ing"), id="a word split"),
    ],
)
def test_different_words_different_fingerprint(other: str) -> None:
    assert fingerprint(other) != fingerprint(BASE)


def test_fingerprint_is_a_sha256_hex_digest() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint(BASE))


def test_accents_are_kept_apart_but_composed_and_decomposed_forms_meet() -> None:
    assert fingerprint("café report") != fingerprint("cafe report")
    assert fingerprint("cafe\u0301 report") == fingerprint("café report")


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        pytest.param("straße", "STRASSE", id="sharp s"),
        pytest.param("οδός", "ΟΔΌΣ", id="greek final sigma"),
        pytest.param("\u0390", "\u0399\u0308\u0301", id="greek iota with dialytika and tonos"),
        pytest.param("\u03b0", "\u03a5\u0308\u0301", id="greek upsilon with dialytika and tonos"),
    ],
)
def test_case_folding_meets_upper_case_forms(lower: str, upper: str) -> None:
    assert upper == lower.upper()  # the table itself is right
    assert fingerprint(upper) == fingerprint(lower)


def test_normalized_text_is_words_separated_by_single_spaces() -> None:
    assert normalized_for_fingerprint("  Hello,   WORLD!\n\n— it’s_me. ") == "hello world it s me"


# Letters whose upper case loses information cannot meet their lower case: dotless ı becomes I,
# which folds back to i (Turkish needs a locale-aware fold). Every other letter must.
LETTERS = st.characters(categories=["Lu", "Ll", "Lt", "Lo"], exclude_characters="ı")
TEXTS = st.lists(st.text(LETTERS, min_size=1, max_size=12), min_size=1, max_size=20)


@given(words=TEXTS, gaps=st.lists(st.sampled_from([" ", "  ", "\n", "\t ", "\n\n  "]), min_size=20, max_size=20))
def test_fingerprint_ignores_case_and_spacing(words: list[str], gaps: list[str]) -> None:
    text = " ".join(words)
    shouted = "  " + "".join(w.upper() + gap for w, gap in zip(words, gaps, strict=False)) + " "
    assert fingerprint(shouted) == fingerprint(text)


@given(words=TEXTS, extra=st.text(LETTERS, min_size=1, max_size=8))
def test_fingerprint_changes_when_a_word_is_added(words: list[str], extra: str) -> None:
    text = " ".join(words)
    assert fingerprint(text + " " + extra) != fingerprint(text)

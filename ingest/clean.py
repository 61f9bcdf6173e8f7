"""Text hygiene shared by every extractor: decoding bytes, Unicode and whitespace normalisation."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from charset_normalizer import from_bytes

from archive.errors import ExtractionError

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_RUNS = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# A UTF-8 lead byte read as a Latin-1 letter (Â to ô) followed by a continuation byte (0x80-0xBF) read
# as a Latin-1 control character or as the symbol Windows-1252 puts there (€, ™, ’...).
_CP1252_CONTINUATIONS = bytes(range(0x80, 0xC0)).decode("cp1252", errors="ignore")
_MOJIBAKE = re.compile(f"[\u00c2-\u00f4][\u0080-\u00bf{re.escape(_CP1252_CONTINUATIONS)}]")


def strip_control_characters(text: str) -> str:
    """Without C0 control characters (tab and line breaks kept) and lone surrogates, which no XML parser takes."""
    return _CONTROL.sub("", text)


def decode_bytes(data: bytes, origin: str) -> str:
    """Text from bytes: UTF-8 (with or without BOM) first, else the detected encoding; binary is refused."""
    if not data.strip():
        raise ExtractionError(f"{origin} is empty.")
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractionError(f"{origin} is a binary file, not text or HTML.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = _decode_legacy(data, origin)
    if not text.strip():  # a byte-order mark and whitespace are still an empty file
        raise ExtractionError(f"{origin} is empty.")
    return text


def _decode_legacy(data: bytes, origin: str) -> str:
    best = from_bytes(data).best()
    if best is None:
        raise ExtractionError(f"{origin} is a binary file or uses an unknown text encoding.")
    # The detector ranks look-alike code pages level with Windows-1252 (cp775 reads "schöner" as
    # "sch÷ner", a short "Café" comes out as UTF-16): like browsers, let Windows-1252 win a tie.
    if best.encoding != "cp1252" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        western = from_bytes(data, cp_isolation=["cp1252"]).best()
        if western is not None and western.chaos <= best.chaos:
            return str(western)
    return str(best)


def undo_mojibake(text: str) -> str:
    """Text that was UTF-8 read as Latin-1 or Windows-1252 ("Investorâ\x80\x99s", "Investorâ€™s") read
    again as UTF-8; unchanged unless the whole of it round-trips, which ordinary accented text never does
    ("café" in Latin-1 is no valid UTF-8)."""
    if not _MOJIBAKE.search(text):
        return text
    for legacy in ("cp1252", "latin-1"):
        try:
            return text.encode(legacy).decode("utf-8")
        except UnicodeError:  # a character outside the code page, or bytes that are no UTF-8
            continue
    return text


def normalize_text(text: str) -> str:
    """NFC, invisible characters removed, spaces folded within lines, paragraphs kept as blank lines."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def normalize_line(text: str | None) -> str | None:
    """A one-line value (title, author): whitespace folded to single spaces, or None when empty."""
    if text is None:
        return None
    folded = " ".join(unicodedata.normalize("NFC", text).translate(_INVISIBLE).split())
    return folded or None


def word_count(text: str) -> int:
    return len(text.split())


LANGUAGE_SAMPLE_CHARS = 5000  # enough text to identify a language; more only costs time
LANGUAGE_CONFIDENCE = 0.9  # below this, a language the page declares is believed instead
MIN_LANGUAGE_WORDS = 8


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, declared: str | None = None) -> str | None:
    """ISO 639-1 code of the text's language: detected (py3langid), unless detection is unsure and the
    source declared one. Templates often declare "en" on every page, so a confident detection wins."""
    declared = declared.split("-")[0].lower() if declared else None
    if word_count(text) < MIN_LANGUAGE_WORDS:
        return declared
    language, probability = _identifier().classify(text[:LANGUAGE_SAMPLE_CHARS])
    if probability >= LANGUAGE_CONFIDENCE or declared is None:
        return language
    return declared


def word_list(text: str) -> list[str]:
    """The words of `text`, lower case, in order."""
    return re.findall(r"\w+", text.lower())


def holds_run(outer: list[str], inner: list[str]) -> bool:
    """True when `inner` occurs in `outer` as a run of words and is shorter."""
    n = len(inner)
    return 0 < n < len(outer) and any(outer[i : i + n] == inner for i in range(len(outer) - n + 1))

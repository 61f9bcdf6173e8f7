"""ingest.clean: decoding bytes into text, and Unicode and whitespace normalisation."""

from __future__ import annotations

import unicodedata

import pytest

from archive.errors import ExtractionError
from ingest.clean import decode_bytes, detect_language, normalize_line, normalize_text, word_count

ENGLISH = "The minister’s “plan” for children’s safety online was published today, said the café owner."
FRENCH = "La police a annoncé mardi l’arrestation de trois hommes soupçonnés d’avoir partagé des images."
GERMAN = "Ein schöner Tag für die Kinder in München, später mehr."
RUSSIAN = "Полиция задержала трех мужчин, подозреваемых в распространении изображений насилия над детьми."
GREEK = "Η αστυνομία συνέλαβε τρεις άνδρες που κατηγορούνται για διακίνηση εικόνων κακοποίησης παιδιών."
POLISH = "Policja zatrzymała trzech mężczyzn podejrzanych o rozpowszechnianie zdjęć przedstawiających dzieci."


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(ENGLISH.encode("utf-8"), ENGLISH, id="utf-8"),
        pytest.param(b"\xef\xbb\xbf" + ENGLISH.encode("utf-8"), ENGLISH, id="utf-8 with BOM"),
        pytest.param(ENGLISH.encode("cp1252"), ENGLISH, id="windows-1252 curly quotes and e-acute"),
        pytest.param("Café “x”".encode("cp1252"), "Café “x”", id="short windows-1252"),
        pytest.param(FRENCH.encode("cp1252"), FRENCH, id="windows-1252 French"),
        pytest.param(GERMAN.encode("latin-1"), GERMAN, id="latin-1 German"),
        pytest.param(ENGLISH.encode("utf-16"), ENGLISH, id="utf-16 with BOM"),
        pytest.param(b"\xfe\xff" + ENGLISH.encode("utf-16-be"), ENGLISH, id="utf-16 big-endian with BOM"),
        pytest.param(RUSSIAN.encode("cp1251"), RUSSIAN, id="windows-1251 Cyrillic"),
        pytest.param(GREEK.encode("cp1253"), GREEK, id="windows-1253 Greek"),
        pytest.param(POLISH.encode("cp1250"), POLISH, id="windows-1250 Polish"),
    ],
)
def test_decode_bytes_reads_the_encoding(data: bytes, expected: str) -> None:
    assert decode_bytes(data, "article.txt") == expected


def test_decode_bytes_keeps_the_text_after_a_bom_but_not_the_bom() -> None:
    text = decode_bytes(b"\xef\xbb\xbfHello", "a.txt")
    assert text == "Hello"
    assert not text.startswith("\ufeff")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"   \n\t\r\n  ", id="whitespace only"),
        pytest.param(b"\xef\xbb\xbf", id="utf-8 BOM only"),
        pytest.param(b"\xef\xbb\xbf  \n\n", id="utf-8 BOM and whitespace"),
        pytest.param(b"\xff\xfe", id="utf-16 BOM only"),
        pytest.param(" \n ".encode("utf-16"), id="utf-16 whitespace"),
    ],
)
def test_decode_bytes_refuses_empty_input(data: bytes) -> None:
    with pytest.raises(ExtractionError, match=r"^notes\.txt is empty\.$"):
        decode_bytes(data, "notes.txt")


PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06\x00\x00\x00"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(PNG_HEADER, id="png header"),
        pytest.param(b"abc\x00def ghi", id="nul byte"),
        pytest.param(b"PK\x03\x04\x14\x00\x00\x00\x08\x00", id="zip header"),
        pytest.param(b"%PDF-1.7\n" + bytes(range(256)), id="pdf with binary body"),
    ],
)
def test_decode_bytes_refuses_binary(data: bytes) -> None:
    with pytest.raises(ExtractionError, match="binary") as info:
        decode_bytes(data, "photo.png")
    assert str(info.value).startswith("photo.png ")


def test_extraction_error_is_a_value_error() -> None:
    # Callers that only know the builtin family still catch it.
    with pytest.raises(ValueError):
        decode_bytes(b"", "x")


def test_normalize_text_composes_decomposed_characters() -> None:
    decomposed = "cafe\u0301 re\u0301sume\u0301"
    assert unicodedata.is_normalized("NFC", decomposed) is False
    result = normalize_text(decomposed)
    assert result == "café résumé"
    assert unicodedata.is_normalized("NFC", result)
    assert "\u0301" not in result


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"])
def test_normalize_text_removes_invisible_characters(invisible: str) -> None:
    assert normalize_text(f"child{invisible}protection on{invisible}line") == "childprotection online"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a  b\t\tc", "a b c", id="spaces and tabs folded"),
        pytest.param("a\u00a0\u00a0b", "a b", id="no-break spaces folded"),
        pytest.param("a\u2003b", "a b", id="em space folded"),
        pytest.param("  leading and trailing  ", "leading and trailing", id="line stripped"),
        pytest.param("line one   \nline two", "line one\nline two", id="trailing spaces on a line"),
        pytest.param("para one\n\npara two", "para one\n\npara two", id="paragraph kept"),
        pytest.param("para one\n\n\n\n\npara two", "para one\n\npara two", id="blank runs folded to one"),
        pytest.param("para one\n \n\t\n  \npara two", "para one\n\npara two", id="whitespace-only lines are blank"),
        pytest.param("one\r\ntwo\r\n\r\nthree", "one\ntwo\n\nthree", id="windows line endings"),
        pytest.param("one\rtwo", "one\ntwo", id="old mac line endings"),
        pytest.param("\n\n\ntext\n\n\n", "text", id="outer blank lines dropped"),
    ],
)
def test_normalize_text_whitespace(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


def test_normalize_text_keeps_single_line_breaks_inside_a_paragraph() -> None:
    # Joining wrapped lines is the text extractor's job; cleaning must not lose the structure it needs.
    assert normalize_text("wrapped line\ncontinues here") == "wrapped line\ncontinues here"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   \n\t ", None),
        ("\u200b", None),
        ("  Jane   Doe \n", "Jane Doe"),
        ("Police\nwarn\tof  rise", "Police warn of rise"),
        ("Jose\u0301 Garci\u0301a", "José García"),
        ("Jane\u200b Doe", "Jane Doe"),
    ],
)
def test_normalize_line(value: str | None, expected: str | None) -> None:
    assert normalize_line(value) == expected


@pytest.mark.parametrize(("text", "count"), [("", 0), ("one", 1), ("one two\n\nthree\tfour", 4)])
def test_word_count(text: str, count: int) -> None:
    assert word_count(text) == count


# -- language ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "declared", "expected"),
    [
        ("Police forces recorded a sharp rise in online grooming offences against children last year.", None, "en"),
        # a template declaring English on a French article is overruled by a confident detection
        ("La police a arrêté douze hommes soupçonnés de pédopiégeage en ligne dans le nord du pays.", "en-US", "fr"),
        ("Die Polizei hat zwölf Männer festgenommen, die Kinder im Internet angesprochen haben sollen.", None, "de"),
        # too little text to tell: the declared language stands
        ("Short note", "pt-BR", "pt"),
        ("Short note", None, None),
    ],
)
def test_detect_language(text: str, declared: str | None, expected: str | None) -> None:
    assert detect_language(text, declared) == expected

"""ingest.text: plain-text articles, their headline, byline, dateline and trailing boilerplate."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from archive.errors import ExtractionError
from ingest.clean import decode_bytes
from ingest.text import derive_title, extract_text_article, looks_like_title, parse_dateline, split_paragraphs
from tests.conftest import CEOP_SEED, HYMAS_SEED

HEADLINE = "Online grooming offences rise sharply"
LEAD = (
    "Police forces across the country have reported a sharp rise in online grooming offences, according "
    "to new figures published by a children's charity on Monday morning."
)
SECOND = (
    "The charity said more must be done by technology companies to protect young users from harm on their platforms."
)
BODY = f"{LEAD}\n\n{SECOND}"


def seed_text(path) -> str:
    return decode_bytes(path.read_bytes(), str(path))


def wrap(text: str, width: int) -> str:
    return "\n\n".join(textwrap.fill(p, width, break_on_hyphens=False) for p in text.split("\n\n"))


# -- the seeds -----------------------------------------------------------------------------------------------


def test_ceop_seed_has_no_headline_so_the_title_comes_from_its_lead() -> None:
    source = seed_text(CEOP_SEED)
    first_paragraph = source.split("\n\n")[0]
    article = extract_text_article(source, str(CEOP_SEED))
    assert article.title.startswith("The Child Exploitation and Online Protection Centre (CEOP)")
    assert len(article.title) <= 170
    assert first_paragraph.startswith(article.title)  # a prefix of the lead, not made up
    assert not article.title.endswith((".", ",", " "))
    # The lead paragraph was not taken as a headline: it is still the body's first paragraph.
    assert article.body.split("\n\n")[0] == first_paragraph
    assert article.author is None
    assert article.published is None
    assert article.origin == str(CEOP_SEED)


def test_ceop_seed_loses_its_trailing_related_line() -> None:
    source = seed_text(CEOP_SEED)
    assert source.rstrip().endswith("Related Blog Articles")  # the seed is what the test thinks
    article = extract_text_article(source, str(CEOP_SEED))
    assert "Related Blog Articles" not in article.body
    assert article.body.endswith("how we better identify those at risk”.")
    assert len(article.body.split("\n\n")) == len(source.split("\n\n")) - 1


def test_hymas_seed_headline_byline_and_reading_time() -> None:
    article = extract_text_article(seed_text(HYMAS_SEED), str(HYMAS_SEED))
    assert article.title == "Record number of 'obscenity' offences by paedophiles sharing child abuse images"
    assert article.author == "Charles Hymas"
    assert article.published is None
    assert article.body.startswith("Twenty paedophiles")
    assert "2-min read" not in article.body
    assert "Charles Hymas" not in article.body
    assert article.title not in article.body
    assert article.body.endswith("who continue to fail children.”")


@pytest.mark.parametrize("seed", [CEOP_SEED, HYMAS_SEED], ids=["ceop", "hymas"])
def test_seed_bodies_are_clean_paragraphs(seed) -> None:
    body = extract_text_article(seed_text(seed), str(seed)).body
    assert "\n\n\n" not in body
    assert "\u00a0" not in body  # the Hymas seed has no-break spaces at line ends
    for paragraph in body.split("\n\n"):
        assert paragraph == paragraph.strip()
        assert "\n" not in paragraph
        assert "  " not in paragraph


@pytest.mark.parametrize("width", [60, 72])
def test_hard_wrapped_seed_without_headline_keeps_its_lead(width: int) -> None:
    source = seed_text(CEOP_SEED)
    plain = extract_text_article(source, "plain")
    wrapped = extract_text_article(wrap(source, width), "wrapped")
    # The first wrapped line is not a headline: the title and body are those of the unwrapped text.
    assert wrapped.title == plain.title
    assert wrapped.body == plain.body


# -- headers: byline, dateline, reading time -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "author", "date"),
    [
        ("By Jane Doe", "Jane Doe", None),
        ("by Jane Doe.", "Jane Doe", None),
        ("Written by Jane Doe", "Jane Doe", None),
        ("Published 14 March 2019", None, "2019-03-14"),
        ("Published on 14 March 2019", None, "2019-03-14"),
        ("Posted on: 2019-03-14", None, "2019-03-14"),
        ("Updated: 14th March 2019 at 10:30", None, "2019-03-14"),
        ("March 14, 2019", None, "2019-03-14"),
        ("Mar 14, 2019", None, "2019-03-14"),
        ("14 March 2019", None, "2019-03-14"),
        ("Thursday 14 March 2019", None, "2019-03-14"),
        ("Jane Doe · 3-min read", "Jane Doe", None),
        ("Jane Doe\n·3-min read", "Jane Doe", None),
        ("Jane Doe | 14 March 2019", "Jane Doe", "2019-03-14"),
        ("Jane Doe\n14 March 2019", "Jane Doe", "2019-03-14"),
        ("By Jane Doe\nPublished 14 March 2019", "Jane Doe", "2019-03-14"),
        ("By Jane Doe | 14 March 2019 | 5 min read", "Jane Doe", "2019-03-14"),
        ("Mary-Jane O'Neill · 4 minute read", "Mary-Jane O'Neill", None),
        ("3 min read", None, None),
    ],
)
def test_header_lines_give_author_and_date(header: str, author: str | None, date: str | None) -> None:
    article = extract_text_article(f"{HEADLINE}\n\n{header}\n\n{BODY}", "a.txt")
    assert article.title == HEADLINE
    assert (article.author, article.published) == (author, date)
    assert article.body == BODY  # the header lines left the body


@pytest.mark.parametrize(
    ("header", "source", "author"),
    [
        ("By Jane Doe\nSource: The Harbour Courier", "The Harbour Courier", "Jane Doe"),
        ("Source: Lakeshore Tribune | 14 March 2019", "Lakeshore Tribune", None),
        ("Jane Doe\n·3-min read\nPublication: Civic Tech Review", "Civic Tech Review", "Jane Doe"),
        ("By Jane Doe", None, "Jane Doe"),
    ],
)
def test_a_source_line_names_the_publication(header: str, source: str | None, author: str | None) -> None:
    article = extract_text_article(f"{HEADLINE}\n\n{header}\n\n{BODY}", "a.txt")
    assert (article.source, article.author) == (source, author)
    assert article.body == BODY


def test_a_source_line_inside_the_body_is_text() -> None:
    article = extract_text_article(f"{HEADLINE}\n\n{BODY}\n\nSource: official figures\n\n{BODY}", "a.txt")
    assert article.source is None and "Source: official figures" in article.body


def test_header_lines_right_under_the_headline() -> None:
    article = extract_text_article(f"{HEADLINE}\nBy Jane Doe\n14 March 2019\n\n{BODY}", "a.txt")
    assert (article.title, article.author, article.published) == (HEADLINE, "Jane Doe", "2019-03-14")
    assert article.body == BODY


def test_a_name_alone_is_not_taken_for_a_byline() -> None:
    # Without a date or reading time beside it, a short capitalised line may be a subheading.
    article = extract_text_article(f"{HEADLINE}\n\nPolice Scotland\n\n{BODY}", "a.txt")
    assert article.author is None
    assert article.body.startswith("Police Scotland\n\n")


def test_a_date_deep_in_the_body_is_not_the_dateline() -> None:
    text = f"{HEADLINE}\n\n{LEAD}\n\n{SECOND}\n\n14 March 2019\n\n{SECOND}"
    article = extract_text_article(text, "a.txt")
    assert article.published is None
    assert "14 March 2019" in article.body


@pytest.mark.parametrize(
    ("line", "date"),
    [
        ("14 March 2019", "2019-03-14"),
        ("14 Mar 2019", "2019-03-14"),
        ("1st March 2020", "2020-03-01"),
        ("March 2nd, 2020", "2020-03-02"),
        ("March 14 2019", "2019-03-14"),
        ("2019-03-14", "2019-03-14"),
        ("Wednesday, 13 March 2019", "2019-03-13"),
        ("Published: 14 March 2019 10:30 GMT", "2019-03-14"),
        ("Last updated on 14 March 2019", "2019-03-14"),
        ("Date: 14 March 2019.", "2019-03-14"),
        ("31 February 2019", None),
        ("March 2019", None),
        ("Police said on 14 March 2019 that", None),
        ("", None),
    ],
)
def test_parse_dateline(line: str, date: str | None) -> None:
    assert parse_dateline(line) == date


# -- trailing boilerplate ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "trailer",
    [
        "Share this article",
        "Share this story:",
        "Share on Facebook",
        "Sign up to our newsletter for weekly updates",
        "Subscribe to our newsletter",
        "Related articles",
        "Related Blog Articles",
        "Related",
        "Read more: Police chief warns on apps",
        "Follow us on Twitter",
        "Advertisement",
        "Tags: grooming, police",
        "Comments (12)",
        "Share this article\nRelated articles",
        "Print\nEmail\n\nShare this article",
        "© The Midlands Observer",
        "Copyright © 2021 Daily Example Ltd. All rights reserved.",
        "Share this article\nThe Northgate Post",
        "Related articles\n\nCharity warns on messaging apps\n\nPolice chief speaks out on grooming",
        "Sign up to our newsletter\n\nMost read\n\nOfcom fines video app",
    ],
)
def test_trailing_boilerplate_is_removed(trailer: str) -> None:
    article = extract_text_article(f"{HEADLINE}\n\n{BODY}\n\n{trailer}", "a.txt")
    assert article.body == BODY


def test_the_same_words_inside_a_paragraph_are_kept() -> None:
    ending = (
        "Readers can share this article with friends, sign up to our newsletter for weekly updates and "
        "find related articles on the charity's website."
    )
    article = extract_text_article(f"{HEADLINE}\n\n{BODY}\n\n{ending}", "a.txt")
    assert article.body == f"{BODY}\n\n{ending}"


@pytest.mark.parametrize(
    "ending",
    [
        "Copyright law experts said the ruling would be appealed within weeks.",
        "Advertisement\n\nThe charity's helpline is open every day of the week, a spokesperson said.",
        "Related articles were published by the charity last year, and its helpline is free.",
    ],
)
def test_endings_that_only_look_like_boilerplate_are_kept(ending: str) -> None:
    article = extract_text_article(f"{HEADLINE}\n\n{BODY}\n\n{ending}", "a.txt")
    assert article.body.endswith(ending.split("\n\n")[-1])


def test_boilerplate_lines_in_the_middle_are_kept() -> None:
    text = f"{HEADLINE}\n\n{LEAD}\n\nAdvertisement\n\n{SECOND}"
    assert "Advertisement" in extract_text_article(text, "a.txt").body


# -- size and shape ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   \n\n  ", id="blank"),
        pytest.param("Share this article\nRelated articles", id="only boilerplate"),
        pytest.param(f"{HEADLINE}\n\nBy Jane Doe\n\nToo short to be an article.", id="too short"),
        pytest.param(" ".join(["word"] * 24), id="24 words"),
    ],
)
def test_too_little_text_is_refused(text: str) -> None:
    with pytest.raises(ExtractionError, match=r"^short\.txt has (no article text|too little text)"):
        extract_text_article(text, "short.txt")


def test_twenty_five_words_are_enough() -> None:
    text = " ".join(f"word{i}" for i in range(25)) + "."
    assert len(extract_text_article(text, "a.txt").body.split()) == 25


def test_hard_wrapped_paragraphs_are_joined() -> None:
    text = f"{HEADLINE}\n\n{wrap(BODY, 40)}"
    assert max(len(line) for line in text.split("\n")) <= 40
    article = extract_text_article(text, "a.txt")
    assert article.title == HEADLINE
    assert article.body == BODY


def test_headline_directly_above_unwrapped_paragraphs() -> None:
    article = extract_text_article(f"{HEADLINE}\n{LEAD}\n{SECOND}", "a.txt")
    assert article.title == HEADLINE
    assert article.body == BODY


def test_lines_without_blank_lines_are_paragraphs_each() -> None:
    assert split_paragraphs("one\ntwo\nthree") == ["one", "two", "three"]
    assert split_paragraphs("one\ntwo\n\nthree") == ["one two", "three"]
    assert split_paragraphs("") == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (HEADLINE, True),
        ("Minister: “We will act”", True),
        ("Police warn parents.", False),
        ("Is your child safe online?", False),
        ("Twenty paedophiles a day are being convicted, official figures show", True),
        ("word " * 26, False),
        ("x" * 151, False),
    ],
)
def test_looks_like_title(line: str, expected: bool) -> None:
    assert looks_like_title(line.strip()) is expected


@pytest.mark.parametrize(
    ("paragraph", "title"),
    [
        ("Police arrested 12 men. The inquiry continues.", "Police arrested 12 men"),
        ("Police arrested 12 men! The inquiry continues.", "Police arrested 12 men"),
        ("Are apps safe? Experts are divided.", "Are apps safe"),
        ("One sentence only.", "One sentence only"),
        ("No full stop at all", "No full stop at all"),
        ("Mr. Smith said the U.K. would act. Others disagreed.", "Mr. Smith said the U.K. would act"),
        ("Dr. Jane Doe warned parents on Monday. Police agreed.", "Dr. Jane Doe warned parents on Monday"),
        ("J. K. Rowling spoke out. Others followed.", "J. K. Rowling spoke out"),
        ("He said: “We must act.” Then he left.", "He said: “We must act”"),
        ("Figures rose by 12.5 per cent in 2020. More follows.", "Figures rose by 12.5 per cent in 2020"),
    ],
)
def test_derive_title(paragraph: str, title: str) -> None:
    assert derive_title(paragraph) == title


def test_derive_title_cuts_a_long_sentence_at_a_clause_break() -> None:
    paragraph = (
        "The national charity for children's safety online has published its annual review of reports made "
        "to its helpline, which shows that calls about sextortion doubled in a single year across the country."
    )
    title = derive_title(paragraph)
    assert title == paragraph[: paragraph.index(", which")]
    assert 60 <= len(title) <= 170


def test_derive_title_shortens_a_long_sentence_without_breaks_at_a_word() -> None:
    paragraph = " ".join(["safeguarding"] * 30) + "."
    title = derive_title(paragraph)
    assert title.endswith(" …")
    assert len(title) <= 122
    assert re.fullmatch(r"(safeguarding )+…", title)


SAMPLES = sorted((Path(__file__).resolve().parent.parent / "archive" / "samples").glob("*.txt"))


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_texts_extract_cleanly(sample: Path) -> None:
    article = extract_text_article(seed_text(sample), str(sample))
    assert article.title and len(article.title) <= 170
    assert len(article.body.split()) >= 100
    first, *_, last = article.body.split("\n\n")
    assert first != article.title  # a headline line is not repeated as the first paragraph
    # The body ends with article text, not with sharing links, newsletters, related links or credits.
    assert re.search(r"[.!?][\"”’)]*$", last), last


# -- Markdown -------------------------------------------------------------------------------------------------

MARKDOWN = """# Ofcom sets out **new** duties for platforms

By Jane Doe | 14 March 2023 | 4 min read

Ofcom has published [its first codes](https://www.ofcom.org.uk/codes) under the *Online Safety Act*, setting
out what platforms must do to protect children from grooming.

- Risk assessments within three months
- Named senior managers accountable

> "This is a turning point," the chief executive said.

```
code blocks keep their words
```

![A chart of reports](https://cdn.example.org/chart.png)

## Share this
"""


def test_markdown_syntax_is_stripped_and_the_header_read() -> None:
    from ingest.text import extract_markdown_article

    article = extract_markdown_article(MARKDOWN, "note.md")
    assert article.title == "Ofcom sets out new duties for platforms"
    assert (article.author, article.published) == ("Jane Doe", "2023-03-14")
    assert article.body.split("\n\n") == [
        "Ofcom has published its first codes under the Online Safety Act, setting out what platforms must do to "
        "protect children from grooming.",
        "Risk assessments within three months",
        "Named senior managers accountable",
        '"This is a turning point," the chief executive said.',
        "code blocks keep their words",
    ]
    for syntax in ("**", "](", "#", "```", "chart.png", "A chart of reports", "Share this"):
        assert syntax not in article.body

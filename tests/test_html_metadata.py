"""ingest.html and ingest.dates: titles and publication dates by news-page conventions."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup

from ingest.clean import undo_mojibake
from ingest.dates import iso_date, url_date
from ingest.html import choose_title, extract_html_article

STORY = [
    "The council approved a new cycle lane along the river on Tuesday, after two years of consultation with "
    "residents, shop owners and the bus company that runs the route through the town centre.",
    "Work is due to start in the spring and to take about eight months, during which the road will be closed to "
    "through traffic at weekends while the old surface is removed and drains are replaced.",
    "Opponents said the lane would take away parking spaces that small shops depend on, and asked the council to "
    "publish the traffic counts on which its decision was based before any work begins.",
]
HEADLINE = "Council approves riverside cycle lane"


def _page(header: str = "", head: str = "", h1: str = HEADLINE, title: str = HEADLINE, footer: str = "") -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in STORY)
    return (
        f"<html><head><title>{title}</title>{head}</head><body><nav><a href='/'>Home</a></nav>"
        f"<article><h1>{h1}</h1>{header}{paragraphs}{footer}</article></body></html>"
    )


def _published(html: str, url: str | None = None) -> str | None:
    return extract_html_article(html, "p.html", url=url).published


def _soup(body: str) -> BeautifulSoup:
    return BeautifulSoup(f"<html><body>{body}</body></html>", "lxml")


DECLARED = '<meta property="article:published_time" content="2024-08-07T12:00:00Z">'


# -- dates -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/2021/01/18/tool-choices", "2021-01-18"),
        ("https://example.com/news/2021-01-18-tool-choices.html", "2021-01-18"),
        ("https://example.com/2021/01/18.html", "2021-01-18"),
        ("https://example.com/2021/13/45/slug", None),  # no such day
        ("https://example.com/2021/01/slug", None),  # a month is no date
        ("https://example.com/item/20210118123/slug", None),  # an id, not a date
        ("https://example.com/slug?date=2021/01/18/", None),  # the query is not the path
        (None, None),
    ],
)
def test_url_date(url: str | None, expected: str | None) -> None:
    assert url_date(url) == expected


def test_a_date_in_the_url_path_beats_a_date_shown_by_the_headline() -> None:
    html = _page("<p>Changes</p><p>2022-04-12 Link to a follow-up</p>", head=DECLARED)
    assert _published(html, url="https://example.com/2021/01/18/cycle-lane") == "2021-01-18"


def test_declared_json_ld_publication_comes_before_htmldates_pick() -> None:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": HEADLINE, "datePublished": "2024-09-10"}
    head = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    head += '<meta itemprop="datePublished" content="2023-01-05">'  # htmldate prefers this one
    assert _published(_page("<p>By Jane Doe</p>", head=head)) == "2024-09-10"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # a review date is a fact check, not an edition of the page: the declared date stands
        ("<p>By Jane Doe</p><p>Medically reviewed on May 2nd, 2025</p>", "2024-08-07"),
        # a publication date shown anywhere near beats the update
        ("<p>Updated May 2, 2025</p><p>By Jane Doe</p><p>Published 14 March 2021</p>", "2021-03-14"),
        # the <time> element's datetime does not separate the label "Updated:" from the date it labels
        (
            "<p>Updated: <time datetime='2025-05-02T10:00:00Z'>May 2, 2025</time></p><p>Jane Doe · March 14, 2021</p>",
            "2021-03-14",
        ),
        # empty comments from script rendering do not hide the date after them
        ("<p>By Jane Doe</p><p>Published <!-- --> <!-- -->14 March 2021</p>", "2021-03-14"),
        # day.month.year when day and month are the same
        ("<p>By Jane Doe</p><p>12.12.2025</p>", "2025-12-12"),
    ],
)
def test_dates_shown_by_the_headline(header: str, expected: str) -> None:
    assert _published(_page(header, head=DECLARED)) == expected


def _ld(published: str | None = None, modified: str | None = None) -> str:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": HEADLINE}
    ld |= {"datePublished": published} if published else {}
    ld |= {"dateModified": modified} if modified else {}
    return f'<script type="application/ld+json">{json.dumps(ld)}</script>'


def test_a_shown_date_later_than_the_last_declared_modification_is_not_the_publication() -> None:
    head = _ld("2023-11-21T19:57:53+00:00", "2023-11-21T19:57:53+00:00")
    assert _published(_page("<p>Jane Doe · Aug 19, 2025</p>", head=head)) == "2023-11-21"
    # with no modification declared, the shown date stands (the page may be a later edition)
    assert _published(_page("<p>Jane Doe · Aug 19, 2025</p>", head=_ld("2023-11-21"))) == "2025-08-19"


@pytest.mark.parametrize(
    ("declared", "shown", "expected"),
    [
        ("2021-12-10T02:17:00+00:00", "December 9, 2021", "2021-12-10"),  # evening of the 9th in America
        ("2025-12-02T23:00:55+00:00", "3 December 2025", "2025-12-02"),  # morning of the 3rd in Europe
        ("2025-12-19T22:02:58Z", "Dec 17, 2025", "2025-12-17"),  # no time zone makes the 19th the 17th
        ("2021-12-10T02:17:00", "December 9, 2021", "2021-12-09"),  # no zone declared: the moment is unknown
    ],
)
def test_a_shown_date_that_is_the_declared_time_in_another_zone_gives_the_declared_date(
    declared: str, shown: str, expected: str
) -> None:
    assert _published(_page(f"<p>By Jane Doe · {shown}</p>", head=_ld(declared))) == expected


def test_an_updated_date_alone_by_the_headline_beats_a_guess_from_the_page() -> None:
    footer = "<p>" + " ".join(STORY) + "</p><div class='date'>2023-04-07</div>"  # a date htmldate takes
    assert _published(_page("<p>Updated: December 31, 2024</p>", footer=footer)) == "2024-12-31"
    # beside a declared publication date, an update is an update
    assert _published(_page("<p>Updated: December 31, 2024</p>", head=_ld("2022-05-01"))) == "2022-05-01"


def test_an_update_shown_before_the_declared_publication_makes_that_a_republication() -> None:
    head = _ld("2025-11-13T09:21:40Z")
    assert _published(_page("<p>Page updated: 12 November 2025</p>", head=head)) == "2025-11-12"
    assert _published(_page("<p>Page updated: 14 November 2025</p>", head=head)) == "2025-11-13"


def test_an_originally_published_note_anywhere_gives_the_date() -> None:
    note = "<p>This article was originally published on 26 Sep 2019 at 4:12pm.</p>"
    html = _page("<p>Chris Carroll 30 Sep 2022, 11:07am</p>", head=DECLARED, footer=note)
    assert _published(html) == "2019-09-26"


def test_a_published_label_on_its_own_line_away_from_the_headline() -> None:
    later = "<p>" + " ".join(STORY) + "</p>"
    assert _published(
        _page("<p>By Jane Doe</p>", head=DECLARED, footer=later + "<p>Published August 13, 2025</p>")
    ) == ("2025-08-13")
    sentence = "<p>The traffic counts, published on 3 March 2021, showed a fall in car journeys over the decade.</p>"
    assert _published(_page("<p>By Jane Doe</p>", head=DECLARED, footer=later + sentence)) == "2024-08-07"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12.12.2025", "2025-12-12"), ("25.12.2025", "2025-12-25"), ("03.04.2025", None), ("4/4/2025", "2025-04-04")],
)
def test_iso_date_reads_numeric_dates_when_day_and_month_can_be_told(value: str, expected: str | None) -> None:
    assert iso_date(value) == expected


# -- titles ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A reader\u00e2\u0080\u0099s guide", "A reader\u2019s guide"),  # UTF-8 read as Latin-1
        ("A reader\u00e2\u20ac\u2122s guide", "A reader\u2019s guide"),  # UTF-8 read as Windows-1252
        ("M\u00c3\u00bcnchen", "M\u00fcnchen"),
        ("Caf\u00e9 cr\u00e8me \u00e2ge", "Caf\u00e9 cr\u00e8me \u00e2ge"),  # ordinary accents stay
        ("\u00c2\u00a0Tom\u2019s caf\u00e9", "\u00c2\u00a0Tom\u2019s caf\u00e9"),  # cannot round-trip: unchanged
    ],
)
def test_undo_mojibake(text: str, expected: str) -> None:
    assert undo_mojibake(text) == expected


def test_a_title_with_mis_decoded_quotes_is_repaired() -> None:
    broken = "A reader\u00e2\u0080\u0099s guide to the new cycle lane"
    article = extract_html_article(_page(h1=broken, title=broken), "p.html")
    assert article.title == "A reader\u2019s guide to the new cycle lane"


@pytest.mark.parametrize(
    ("body", "metadata", "expected"),
    [
        # the blog's name before a colon in the page title is no headline, though no site name is declared
        (
            "<h1>Riverside Notes</h1><h2>Council approves riverside cycle lane</h2>",
            ["Council approves riverside cycle lane", "Riverside Notes: Council approves riverside cycle lane"],
            "Council approves riverside cycle lane",
        ),
        # nor is the name after a separator
        ("<h1>Riverside Notes</h1>", ["Council approves cycle lane | Riverside Notes"], "Council approves cycle lane"),
        # but the first part before a separator is often the headline itself
        (
            "<h1>Council approves cycle lane</h1>",
            ["Council approves cycle lane | Work starts in spring, roads closed at weekends"],
            "Council approves cycle lane",
        ),
        # an all-capitals <h1> gives way to the metadata title it agrees with, in the publisher's casing
        (
            "<h1>COUNCIL APPROVES NEW RIVERSIDE CYCLE LANE IN 2026</h1>",
            ["Council approves riverside cycle lane 2026"],
            "Council approves riverside cycle lane 2026",
        ),
        # a section label before a colon is not part of the headline
        (
            "<h1>Analysis: Council approves riverside cycle lane</h1>",
            ["Council approves riverside cycle lane"],
            "Council approves riverside cycle lane",
        ),
        # a labelled <h1> whose rest is not the metadata title stays whole
        (
            "<h1>Analysis: Council approves riverside cycle lane</h1>",
            ["Council approves cycle lane on the river"],
            "Analysis: Council approves riverside cycle lane",
        ),
        # the <h1> agrees with the metadata title in other forms of the same words ("apps", "app")
        (
            "<h1>Learning Apps Compared: Ten Language Tools Tried</h1>",
            ["Best Language Learning App Reviews 2025"],
            "Learning Apps Compared: Ten Language Tools Tried",
        ),
    ],
)
def test_choose_title_conventions(body: str, metadata: list[str], expected: str) -> None:
    assert choose_title(_soup(body), metadata, None) == expected

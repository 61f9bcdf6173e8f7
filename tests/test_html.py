"""ingest.html: main text without media or page furniture, and metadata from JSON-LD and meta tags."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from archive.errors import ExtractionError
from ingest.clean import decode_bytes
from ingest.dates import _month_name_date, iso_date
from ingest.html import (
    authors_from_byline,
    choose_title,
    clean_url,
    extract_html_article,
    extract_main_text,
    headline_text,
    strip_site_name,
    untruncated,
)

PARAGRAPHS = [
    "Police forces across England and Wales recorded a sharp rise in online grooming offences last year, "
    "according to figures obtained by a children's charity through freedom of information requests.",
    "The charity said social media platforms must do more to detect adults who contact children, and called on "
    "ministers to strengthen the Online Safety Bill before it returns to Parliament in the spring.",
    "A spokesperson for the National Police Chiefs' Council said officers were working closely with technology "
    "companies to identify offenders and to safeguard the children who had been targeted.",
    "The government said it would respond to the figures in due course, and that protecting children online "
    "remained one of its highest priorities for the coming parliamentary session.",
]
HEADLINE = "Police warn of rise in online grooming"
NAV_TEXT = ["News home", "Sport section", "Weather forecast"]
FOOTER_TEXT = ["Copyright 2021 Daily Example Ltd", "Privacy policy", "Terms and conditions"]
COOKIE_TEXT = "We use cookies to improve your experience"
SCRIPT_TEXT = ["dataLayer", "tracking pixel fired", "trackPageView", "font-family"]
CAPTION_TEXT = ["Offences recorded by police", "Photograph: Agency Pictures/Getty Images", "Chart of offences"]
MEDIA_TEXT = [
    "grooming-chart.png",
    "youtube.com",
    "clip.mp4",
    "Your browser does not support",
    "iframe",
    "Interview video",
    "Enable JavaScript",
]

JSON_LD = {
    "@context": "https://schema.org",
    "@type": "NewsArticle",
    "headline": HEADLINE,
    "datePublished": "2021-03-14T09:30:00+00:00",
    "dateModified": "2021-03-16T12:00:00+00:00",
    "author": [{"@type": "Person", "name": "Jane Doe"}, {"@type": "Person", "name": "John Smith"}],
    "publisher": {
        "@type": "Organization",
        "name": "Daily Example Ltd",
        "logo": {"@type": "ImageObject", "url": "https://cdn.example.co.uk/logo.png"},
    },
}


def page(
    *,
    title: str = f"{HEADLINE} | The Daily Example",
    head: str = '<meta property="og:site_name" content="The Daily Example">\n'
    f'<meta property="og:title" content="{HEADLINE}">',
    canonical: str | None = "https://www.example.co.uk/news/grooming-rise?utm_source=twitter&utm_medium=social"
    "&id=42&fbclid=abc123#comments",
    json_ld: dict | None = JSON_LD,
    lang: str = "en-GB",
    paragraphs: list[str] = PARAGRAPHS,
    byline: str = "By Jane Doe and John Smith",
) -> str:
    """A realistic news page: furniture, media and tracking around an article of `paragraphs`."""
    ps = [f"<p>{p}</p>" for p in paragraphs]
    body = "\n".join(
        ps[:1]
        + [
            '<figure><img src="https://cdn.example.co.uk/images/grooming-chart.png" alt="Chart of offences">'
            '<figcaption>Offences recorded by police, 2017 to 2021. <span class="credit">Photograph: Agency '
            "Pictures/Getty Images</span></figcaption></figure>"
        ]
        + ps[1:2]
        + ['<iframe src="https://www.youtube.com/embed/abc123" title="Interview video"></iframe>']
        + ps[2:3]
        + [
            '<video src="https://cdn.example.co.uk/video/clip.mp4" controls>Your browser does not support the video '
            "element.</video>"
        ]
        + ps[3:]
    )
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<title>{title}</title>
{f'<link rel="canonical" href="{canonical}">' if canonical else ""}
{head}
<meta property="og:image" content="https://cdn.example.co.uk/images/grooming-hero.jpg">
<style>.cookie-banner {{ position: fixed; }} body {{ font-family: serif; }}</style>
<script>window.dataLayer = window.dataLayer || [];
function trackPageView() {{ console.log("tracking pixel fired"); }}</script>
{f'<script type="application/ld+json">{json.dumps(json_ld)}</script>' if json_ld else ""}
</head>
<body>
<div class="cookie-banner" id="cookie-consent"><p>{COOKIE_TEXT}. Accept all cookies or manage your preferences.</p>
<button>Accept</button></div>
<header class="site-header"><a href="/">The Daily Example</a>
<nav><ul><li><a href="/news">News home</a></li><li><a href="/sport">Sport section</a></li>
<li><a href="/weather">Weather forecast</a></li></ul></nav></header>
<main>
<article>
<h1>{HEADLINE}</h1>
<p class="byline">{byline}</p>
<time datetime="2021-03-14T09:30:00Z">14 March 2021</time>
{body}
</article>
</main>
<footer><p>Copyright 2021 Daily Example Ltd. All rights reserved. Registered in England and Wales.</p>
<ul><li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms and conditions</a></li></ul></footer>
<noscript>Enable JavaScript to see comments.</noscript>
<script>trackPageView();</script>
</body>
</html>"""


@pytest.fixture(scope="module")
def article():
    return extract_html_article(page(), "page.html")


def test_title_is_the_headline_without_the_site(article) -> None:
    assert article.title == HEADLINE


def test_date_is_the_publication_date_not_the_modification(article) -> None:
    assert article.published == "2021-03-14"


def test_authors_come_from_json_ld(article) -> None:
    assert article.author == "Jane Doe, John Smith"


def test_canonical_url_without_tracking(article) -> None:
    assert article.canonical_url == "https://www.example.co.uk/news/grooming-rise?id=42"
    assert article.url == article.canonical_url  # no fetch URL was given


def test_source_is_the_site_name(article) -> None:
    assert article.source == "The Daily Example"


def test_language_is_the_primary_subtag(article) -> None:
    assert article.language == "en"


def test_origin_is_kept(article) -> None:
    assert article.origin == "page.html"


def test_body_is_the_article_paragraphs(article) -> None:
    assert article.body.split("\n\n") == PARAGRAPHS


@pytest.mark.parametrize("unwanted", NAV_TEXT + FOOTER_TEXT + [COOKIE_TEXT] + SCRIPT_TEXT + CAPTION_TEXT + MEDIA_TEXT)
def test_body_has_no_furniture_media_or_code(article, unwanted: str) -> None:
    assert unwanted.lower() not in article.body.lower()


def test_body_has_no_urls(article) -> None:
    assert "http" not in article.body
    assert "www." not in article.body


def test_extract_main_text_drops_media_but_keeps_text_after_it() -> None:
    html = (
        "<html><body><article><p>" + PARAGRAPHS[0] + ' <img src="a.png" alt="An image">'
        "and the tail text after the image stays.</p><p>" + PARAGRAPHS[1] + "</p></article></body></html>"
    )
    text = extract_main_text(html)
    assert "and the tail text after the image stays" in text
    assert "a.png" not in text and "An image" not in text


@pytest.mark.parametrize("html", ["", "   ", "<html></html>", "<p></p>", "<body><!--</body>"])
def test_extract_main_text_of_nothing_is_empty(html: str) -> None:
    assert extract_main_text(html) == ""


# -- metadata sources, one at a time -------------------------------------------------------------------------


def test_source_falls_back_to_the_publisher() -> None:
    assert extract_html_article(page(head=""), "p.html").source == "Daily Example Ltd"


def test_source_falls_back_to_the_host() -> None:
    html = page(head="", json_ld={k: v for k, v in JSON_LD.items() if k != "publisher"})
    assert extract_html_article(html, "p.html").source == "example.co.uk"


def test_no_json_ld_meta_tags_give_the_metadata() -> None:
    head = (
        '<meta property="og:site_name" content="The Daily Example">'
        '<meta property="article:published_time" content="2020-07-01T08:00:00Z">'
        '<meta property="article:modified_time" content="2020-07-09T08:00:00Z">'
        '<meta name="author" content="By Sam Lee">'
    )
    shown_date = '<time datetime="2021-03-14T09:30:00Z">14 March 2021</time>'  # a shown date would win
    article = extract_html_article(page(head=head, json_ld=None).replace(shown_date, ""), "p.html")
    assert article.title == HEADLINE  # from the <h1>, then without a site suffix from <title>
    assert article.published == "2020-07-01"
    assert article.author == "Sam Lee"


def test_the_page_title_loses_its_site_suffix() -> None:
    html = page(title=f"{HEADLINE} - The Daily Example", head="", json_ld=None).replace(f"<h1>{HEADLINE}</h1>", "")
    assert extract_html_article(html, "p.html").title == HEADLINE


def test_a_time_element_gives_the_date_last() -> None:
    assert extract_html_article(page(head="", json_ld=None), "p.html").published == "2021-03-14"


def test_author_as_a_single_object_and_graph_json_ld() -> None:
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "Example"},
            {"@type": "WebPage", "name": "Generic page", "author": "Not Me"},
            {
                "@type": ["NewsArticle"],
                "headline": "Graph headline for grooming figures",
                "author": {"name": "Ann Lee"},
                "datePublished": "2019-11-02",
                "inLanguage": "fr-FR",
            },
        ],
    }
    html = page(json_ld=graph, head="").replace(f"<h1>{HEADLINE}</h1>", "")
    article = extract_html_article(html, "p.html")
    assert article.title == "Graph headline for grooming figures"  # the article, not the web page
    assert article.author == "Ann Lee"
    assert article.published == "2019-11-02"
    assert article.language == "fr"  # inLanguage beats the lang attribute


def test_a_broken_json_ld_block_is_ignored() -> None:
    html = page(json_ld=None).replace("</head>", '<script type="application/ld+json">{not json</script></head>')
    article = extract_html_article(html, "p.html")
    assert article.title == HEADLINE
    assert article.body.split("\n\n") == PARAGRAPHS


def test_relative_canonical_is_resolved_against_the_page_url() -> None:
    html = page(canonical="/news/grooming-rise?utm_campaign=x")
    article = extract_html_article(html, "p.html", url="https://www.example.co.uk/amp/grooming?utm_source=a")
    assert article.canonical_url == "https://www.example.co.uk/news/grooming-rise"
    assert article.url == "https://www.example.co.uk/amp/grooming"


def test_relative_canonical_without_a_page_url_falls_back_to_og_url() -> None:
    head = '<meta property="og:url" content="https://www.example.co.uk/news/from-og">'
    article = extract_html_article(page(canonical="/news/grooming-rise", head=head), "p.html")
    assert article.canonical_url == "https://www.example.co.uk/news/from-og"


def test_the_headline_repeated_as_first_paragraph_is_dropped() -> None:
    article = extract_html_article(page(paragraphs=[HEADLINE, *PARAGRAPHS]), "p.html")
    assert article.body.split("\n\n") == PARAGRAPHS


def test_xhtml_with_an_xml_declaration() -> None:
    xhtml = page().replace("<!DOCTYPE html>", '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>', 1)
    article = extract_html_article(xhtml, "page.xhtml")  # and no XMLParsedAsHTMLWarning (warnings are errors)
    assert article.title == HEADLINE
    assert article.body.split("\n\n") == PARAGRAPHS


def test_page_without_article_text_is_refused() -> None:
    # A landing page: furniture and a headline, no article.
    html = page(paragraphs=[], json_ld=None, byline="").replace(
        '<time datetime="2021-03-14T09:30:00Z">14 March 2021</time>', ""
    )
    with pytest.raises(ExtractionError, match=r"^empty\.html has no article text that could be extracted\.$"):
        extract_html_article(html, "empty.html")


def test_json_ld_article_body_is_used_when_the_page_has_no_visible_text() -> None:
    ld = dict(JSON_LD, articleBody="\n\n".join(PARAGRAPHS))
    html = f"""<!DOCTYPE html><html lang="en"><head><title>{HEADLINE} | Kids Online News</title>
<script type="application/ld+json">{json.dumps(ld)}</script><script src="/static/app.js"></script></head>
<body><div id="root"></div><noscript>You need to enable JavaScript to run this app.</noscript></body></html>"""
    article = extract_html_article(html, "app.html", url="https://kids.example.org/news/1?utm_source=x")
    assert article.body.split("\n\n") == PARAGRAPHS
    assert "JavaScript" not in article.body
    assert (article.title, article.published, article.author) == (HEADLINE, "2021-03-14", "Jane Doe, John Smith")
    assert article.url == "https://kids.example.org/news/1"


def test_json_ld_article_body_is_used_behind_a_paywall() -> None:
    ld = dict(JSON_LD, articleBody="\n\n".join(PARAGRAPHS))
    article = extract_html_article(page(paragraphs=PARAGRAPHS[:1], json_ld=ld), "paywalled.html")
    assert article.body.split("\n\n") == PARAGRAPHS


def test_json_ld_article_body_does_not_replace_a_fuller_page_text() -> None:
    ld = dict(JSON_LD, articleBody=PARAGRAPHS[0])  # a teaser
    article = extract_html_article(page(json_ld=ld), "p.html")
    assert article.body.split("\n\n") == PARAGRAPHS


def test_page_without_any_title_derives_one_from_the_lead() -> None:
    html = "<html><body><article>" + "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "</article></body></html>"
    article = extract_html_article(html, "p.html")
    assert (
        article.title
        == "Police forces across England and Wales recorded a sharp rise in online grooming offences last year"
    )


# -- helpers -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.example.com/a?utm_source=x&utm_medium=y&id=1", "https://www.example.com/a?id=1"),
        ("https://example.com/a?fbclid=1&gclid=2", "https://example.com/a"),
        ("https://example.com/a?id=1&UTM_Campaign=z&mc_cid=3&igshid=4", "https://example.com/a?id=1"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://EXAMPLE.com/Path/Case", "https://example.com/Path/Case"),
        ("http://example.com", "http://example.com/"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),
        ("https://example.com:8443/a?page=2", "https://example.com:8443/a?page=2"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("ftp://example.com/x", None),
        ("/relative/path", None),
        ("mailto:news@example.com", None),
        ("", None),
        (None, None),
    ],
)
def test_clean_url(url: str | None, expected: str | None) -> None:
    assert clean_url(url) == expected


@pytest.mark.parametrize(
    ("title", "site", "expected"),
    [
        ("Headline for the story | The Daily Example", "The Daily Example", "Headline for the story"),
        ("Headline for the story - BBC News", "BBC", "Headline for the story"),
        ("Headline for the story – Guardian", None, "Headline for the story"),
        ("Headline for the story | Technology | The Guardian", "The Guardian", "Headline for the story"),
        (
            "Grooming – the hidden crime in our schools – The Daily Example",
            "The Daily Example",
            "Grooming – the hidden crime in our schools",
        ),
        ("Online safety: Ofcom sets out new rules", "Ofcom", "Online safety: Ofcom sets out new rules"),
        (
            "Self-generated images rise - new report finds worrying pattern",
            None,
            "Self-generated images rise - new report finds worrying pattern",
        ),
        ("Police arrest 12 men in grooming inquiry", "Example", "Police arrest 12 men in grooming inquiry"),
        ("A | B", None, "A"),
    ],
)
def test_strip_site_name(title: str, site: str | None, expected: str) -> None:
    assert strip_site_name(title, site) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-03-14T09:30:00+00:00", "2021-03-14"),
        ("2021-03-14", "2021-03-14"),
        ("Published 2021-03-14 at noon", "2021-03-14"),
        ("14 March 2021", "2021-03-14"),
        ("Jun 24, 2025", "2025-06-24"),
        ("13/11/2025 09:21:40", "2025-11-13"),
        ("11/13/2025", "2025-11-13"),
        ("03/04/2025", None),  # day and month cannot be told apart
        ("last Tuesday", None),
        ("", None),
        (None, None),
    ],
)
def test_iso_date(value: str | None, expected: str | None) -> None:
    assert iso_date(value) == expected


# -- the shipped samples -------------------------------------------------------------------------------------

SAMPLES = sorted((Path(__file__).resolve().parent.parent / "archive" / "samples").glob("*.html"))


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_pages_extract_cleanly(sample: Path) -> None:
    html = decode_bytes(sample.read_bytes(), str(sample))
    soup = BeautifulSoup(html, "lxml")
    captions = [c.get_text(" ", strip=True) for c in soup.find_all("figcaption")]
    assert captions, f"{sample.name} should hold a <figure> with a <figcaption>"
    page_title = soup.title.get_text(strip=True)
    assert " | " in page_title  # "Headline | Site", as the samples are written

    article = extract_html_article(html, str(sample))
    assert article.title == page_title.rpartition(" | ")[0]
    assert article.published and re.fullmatch(r"\d{4}-\d{2}-\d{2}", article.published)
    assert article.author
    assert len(article.body.split()) >= 100
    assert len(article.body.split("\n\n")) >= 3
    for caption in captions:
        assert caption not in article.body
        for sentence in caption.split(". "):  # nor any sentence of it, such as the photo credit
            if len(sentence) > 15:
                assert sentence not in article.body


# -- rules for titles, authors, dates and figures ------------------------------------------------------------


def _soup(body: str) -> BeautifulSoup:
    return BeautifulSoup(f"<html><body>{body}</body></html>", "lxml")


@pytest.mark.parametrize(
    ("body", "metadata", "site", "expected"),
    [
        # the visible headline beats a search-engine title that shares its subject
        (
            "<h1>Ofcom sets out new duties for platforms</h1>",
            ["New Ofcom rules: what platforms must do | Example"],
            "Example",
            "Ofcom sets out new duties for platforms",
        ),
        # a logo <h1> naming the site is skipped
        (
            "<h1>Example News</h1><h1>Ofcom sets out new duties</h1>",
            ["Ofcom sets out new duties - Example News"],
            "Example News",
            "Ofcom sets out new duties",
        ),
        # an <h1> sharing nothing with the metadata is a widget heading
        ("<h1>Newsletter</h1>", ["Ofcom sets out new duties | Example"], "Example", "Ofcom sets out new duties"),
        # capitals are styling when the metadata has the same words
        ("<h1>OFCOM SETS OUT NEW DUTIES</h1>", ["Ofcom sets out new duties"], None, "Ofcom sets out new duties"),
        # a dateline inside the <h1> is furniture
        (
            "<h1>Ofcom sets out new duties Posted on July 1, 2024 by admin</h1>",
            ["Ofcom sets out new duties"],
            None,
            "Ofcom sets out new duties",
        ),
        # words split by inline markup stay whole; <br> separates
        (
            "<h1>Ofcom sets out new <span>d</span>uties<br>for platforms</h1>",
            [],
            None,
            "Ofcom sets out new duties for platforms",
        ),
        # no <h1>: the metadata title without the site name
        (
            "<p>text</p>",
            ["Site name | Ofcom sets out new duties for platforms"],
            "Site name",
            "Ofcom sets out new duties for platforms",
        ),
        ("<p>text</p>", [], None, None),
    ],
)
def test_choose_title(body: str, metadata: list[str], site: str | None, expected: str | None) -> None:
    assert choose_title(_soup(body), metadata, site) == expected


@pytest.mark.parametrize(
    ("byline", "expected"),
    [
        ("By Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
        ("by Jane Doe, John Roe & Ann Lee", ["Jane Doe", "John Roe", "Ann Lee"]),
        ("Written by Jane Doe | Home Affairs Editor", ["Jane Doe"]),
        ("Jane Doe", ["Jane Doe"]),
        ("https://example.com/authors/jane", []),
    ],
)
def test_authors_from_byline(byline: str, expected: list[str]) -> None:
    assert authors_from_byline(byline) == expected


def test_meta_byline_with_two_names_gives_two_authors() -> None:
    head = '<meta name="author" content="By Sam Lee and Kim Park">'
    assert extract_html_article(page(head=head, json_ld=None), "p.html").author == "Sam Lee, Kim Park"


def test_byline_elements_are_searched_when_metadata_names_nobody() -> None:
    html = page(head="", json_ld=None).replace('<p class="byline">', '<p class="byline"><span class="author">')
    html = html.replace("By Jane Doe and John Smith</p>", "By Jane Doe and John Smith</span></p>")
    assert extract_html_article(html, "p.html").author == "Jane Doe, John Smith"


def test_html_entities_in_metadata_are_decoded_even_when_escaped_twice() -> None:
    head = '<meta property="og:title" content="M&amp;amp;A in child safety tech: who buys whom">'
    article = extract_html_article(page(head=head, json_ld=None).replace(f"<h1>{HEADLINE}</h1>", ""), "p.html")
    assert article.title == "M&A in child safety tech: who buys whom"


def test_a_time_element_in_a_teaser_card_is_not_the_date() -> None:
    html = page(head="", json_ld=None).replace('<time datetime="2021-03-14T09:30:00Z">14 March 2021</time>', "")
    html = html.replace(
        "</article>",
        '</article><div class="related-card"><a href="/x">Older</a><time datetime="2015-01-01">1 Jan</time></div>',
    )
    assert extract_html_article(html, "p.html").published != "2015-01-01"


def test_a_figure_holding_a_table_keeps_the_table_but_not_its_caption() -> None:
    table = (
        "<figure><table><tr><th>Year</th><th>Offences recorded</th></tr><tr><td>2019</td><td>5,441 grooming cases"
        "</td></tr></table><figcaption>Source: police figures table caption</figcaption></figure>"
    )
    html = page().replace(f"<p>{PARAGRAPHS[1]}</p>", f"<p>{PARAGRAPHS[1]}</p>{table}")
    body = extract_html_article(html, "p.html").body
    assert "5,441 grooming cases" in body
    assert "table caption" not in body


# -- headlines: labels, one-word matches, cut titles ---------------------------------------------------------


@pytest.mark.parametrize(
    ("h1", "expected"),
    [
        ("Movers in New York rated for 2025 | Top 19 Companies", "Movers in New York rated for 2025"),
        ("Meditation rewires the brain | Opinion | The Example Herald", "Meditation rewires the brain"),
        ("Tools for 2026 | Python, SQL &amp;#x26; AI", "Tools for 2026"),  # entities decoded, then the label goes
        (
            "Ten cameras worth buying | The best mirrorless cameras on the market today",
            "Ten cameras worth buying | The best mirrorless cameras on the market today",
        ),
        ("Half a loaf<br>is better than none", "Half a loaf is better than none"),
    ],
)
def test_headline_text(h1: str, expected: str) -> None:
    assert headline_text(_soup(f"<h1>{h1}</h1>").h1) == expected


def test_a_one_word_h1_found_in_a_long_title_is_a_label() -> None:
    title = "How we found one flaw in Discord, Slack and forty other chat services"
    assert choose_title(_soup("<h1>Discord</h1><p>text</p>"), [title], None) == title


def test_a_short_h1_that_is_most_of_the_title_stands() -> None:
    assert choose_title(_soup("<h1>Affordable nutrition</h1>"), ["Affordable food: nutrition"], None) == (
        "Affordable nutrition"
    )


@pytest.mark.parametrize(
    ("titles", "expected"),
    [
        (["Ofcom rules for platforms (including", "Ofcom rules for platforms (including small ones)"], 1),
        (["Ofcom rules for platforms, and …", "Ofcom rules for platforms, and what they mean"], 1),
        (["Ofcom rules for platforms", "Ofcom rules for platforms – what they mean"], 0),  # complete as it is
    ],
)
def test_a_title_cut_short_gives_way_to_its_full_form(titles: list[str], expected: int) -> None:
    assert untruncated(titles)[0] == titles[expected]
    assert choose_title(_soup("<p>text</p>"), titles, None) == titles[expected]


# -- dates shown by the headline -----------------------------------------------------------------------------


def _dated_page(header: str, head: str = "", story: str = "") -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in [story, *PARAGRAPHS] if p)
    return (
        f"<html><head><title>{HEADLINE}</title>{head}</head><body><nav><a href='/'>Home</a></nav>"
        f"<article><h1>{HEADLINE}</h1>{header}{paragraphs}</article></body></html>"
    )


def _published(html: str) -> str | None:
    return extract_html_article(html, "p.html").published


PUBLISHED_META_TAG = '<meta property="article:published_time" content="2024-08-07T12:00:00Z">'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("<p>By Jane Doe · Dec 30, 2013</p>", "2013-12-30"),  # shown unlabelled: beats the CMS stamp
        ("<p>Updated 2 May 2025</p><p>Published: 14 March 2021</p>", "2021-03-14"),
        ("<p>Last updated on May 2nd, 2025</p>", "2024-08-07"),  # a modification: the metadata stands
        ("<p>Reviewed on May 2nd, 2025</p>", "2024-08-07"),  # a review is no edition: the metadata stands
        (
            "<div class='meta'><h3>Published</h3><time datetime='2021-03-14T09:30:00Z'>03/14/21</time></div>",
            "2021-03-14",
        ),
        ("<p>Jane Doe, Sept. 4, 2025</p>", "2025-09-04"),
    ],
)
def test_the_date_shown_by_the_headline(header: str, expected: str) -> None:
    assert _published(_dated_page(header, head=PUBLISHED_META_TAG)) == expected


def test_a_date_in_a_sentence_of_the_story_is_not_the_dateline() -> None:
    story = "The consultation, which opened on Wednesday, December 17 2025, closes in the spring after a long debate."
    assert _published(_dated_page("", head=PUBLISHED_META_TAG, story=story)) == "2024-08-07"


def test_a_shown_date_that_is_the_declared_modification_is_not_the_publication() -> None:
    ld = {"@type": "Article", "headline": HEADLINE, "datePublished": "2012-09-12", "dateModified": "2021-09-08"}
    head = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    assert _published(_dated_page("<p>Jane Doe · September 8, 2021</p>", head=head)) == "2012-09-12"


def test_the_shown_date_nearest_the_headline_wins() -> None:
    html = _dated_page(f"<p>By Jane Doe</p><p>{PARAGRAPHS[0]}</p><p>July 15, 2025</p>").replace(
        "<h1>", "<p>Mobile marketing · January 16, 2025</p><h1>"
    )
    assert _published(html) == "2025-01-16"


def test_a_teaser_class_around_the_whole_article_does_not_hide_its_date() -> None:
    # The date is too far below the headline to be its dateline; htmldate finds it in the article.
    signed = f"<p>{' '.join(PARAGRAPHS)}</p><p>Posted by Jane Doe on <time datetime='2021-03-14'>a Sunday</time></p>"
    html = _dated_page(signed).replace("<article>", "<div class='widget blog-posts'><article>")
    assert _published(html.replace("</article>", "</article></div>")) == "2021-03-14"


def test_json_ld_publication_beats_a_modification_date_found_by_htmldate() -> None:
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {
                "@type": "WebPage",
                "name": HEADLINE,
                "datePublished": "2021-01-27T06:00:00+00:00",
                "dateModified": "2021-04-15T00:07:20+00:00",
            }
        ],
    }
    head = (
        '<meta property="article:modified_time" content="2021-04-15T00:07:20+00:00">'
        f'<script type="application/ld+json">{json.dumps(graph)}</script>'
    )
    assert _published(_dated_page("<p>By Jane Doe</p>", head=head)) == "2021-01-27"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("March 14, 2021", "2021-03-14"),
        ("14th March 2021", "2021-03-14"),
        ("31 May, 2023", "2023-05-31"),
        ("Sept. 4, 2025", "2025-09-04"),
        ("Jan 5 2026", "2026-01-05"),
        ("14 of March 2021", "2021-03-14"),
        ("Smarch 14, 2021", None),
    ],
)
def test_month_name_date(text: str, expected: str | None) -> None:
    assert _month_name_date(text) == expected

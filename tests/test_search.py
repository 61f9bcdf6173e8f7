"""Search: parsing, filters, facets, sorting, paging and highlighting, against a small real index."""

import re

import pytest

from archive.errors import InvalidQuery
from archive.models import Article, SearchQuery, TopicScore
from archive.search import check_balanced, parse_date
from archive.service import Archive
from ingest.dedup import fingerprint

ARTICLES = [
    (
        "Police arrested a man after the CEOP referral",
        "Officers arrested a suspect in Leeds after a referral from CEOP "
        "about shared images. The arrest followed months of work.",
        "2013-04-02",
        "Harbour Courier",
        ["law_enforcement"],
    ),
    (
        "Ministers publish the Online Safety Bill",
        "The government published its bill, giving the regulator powers "
        "over platforms. Ministers said the duty of care would be enforced.",
        "2021-05-12",
        "Civic Tech Review",
        ["policy", "platform_moderation"],
    ),
    (
        "Charity helpline calls rise",
        "A children's charity said calls to its helpline rose, and urged parents to "
        "talk to children about online safety. Europäische Kommission noted the rise.",
        "2019-11-20",
        "Harbour Courier",
        ["prevention"],
    ),
    (
        "Platform removes accounts",
        "The platform removed thousands of accounts and said its moderators review "
        "reports within a day. Police were informed of the worst cases.",
        "2022-02-01",
        "Northern Ledger",
        ["platform_moderation"],
    ),
    (
        "Undated note <script>alert(1)</script>",
        "A note with no date at all about arrests & <b>markup</b> in text.",
        None,
        None,
        [],
    ),
]


@pytest.fixture
def archive(tmp_path):
    arch = Archive(tmp_path / "data")
    for title, body, date, source, topics in ARTICLES:
        scores = [TopicScore(t, 0.9, True) for t in topics]
        arch.add(
            Article(title=title, body=body, published=date, source=source, fingerprint=fingerprint(body), scores=scores)
        )
    yield arch
    arch.close()


def titles(result):
    return [h.title for h in result.hits]


def test_stemming_finds_other_forms(archive):
    result = archive.search(SearchQuery(q="arrests"))
    assert "Police arrested a man after the CEOP referral" in titles(result)


def test_accent_folding(archive):
    assert titles(archive.search(SearchQuery(q="Europaische"))) == ["Charity helpline calls rise"]


def test_all_words_are_required_by_default(archive):
    assert titles(archive.search(SearchQuery(q="helpline arrested"))) == []
    assert archive.search(SearchQuery(q="helpline OR arrested")).total == 3


def test_title_matches_rank_above_body_matches(archive):
    result = archive.search(SearchQuery(q="police"))
    assert result.hits[0].title.startswith("Police arrested")
    assert result.total == 2


def test_snippet_marks_matches_and_escapes_everything_else(archive):
    hit = archive.search(SearchQuery(q="arrests")).hits
    undated = next(h for h in hit if h.title.startswith("Undated"))
    assert "<mark>arrests</mark>" in undated.snippet
    assert "&amp;" in undated.snippet and "&lt;b&gt;markup&lt;/b&gt;" in undated.snippet
    assert set(re.findall(r"</?(\w+)", undated.snippet)) == {"mark"}
    assert "&lt;script&gt;" in undated.title_html


def test_ceop_is_highlighted_in_title_and_snippet(archive):
    hit = archive.search(SearchQuery(q="CEOP")).hits[0]
    assert "<mark>CEOP</mark>" in hit.snippet
    assert "<mark>CEOP</mark>" in hit.title_html


def test_facets_count_all_matches_not_just_the_page(archive):
    result = archive.search(SearchQuery(q="", per_page=1))
    assert result.total == 5 and len(result.hits) == 1
    assert result.facets["topic"] == {"platform_moderation": 2, "law_enforcement": 1, "policy": 1, "prevention": 1}
    assert result.facets["source"] == {"Harbour Courier": 2, "Civic Tech Review": 1, "Northern Ledger": 1}
    assert result.facets["year"] == {"2013": 1, "2019": 1, "2021": 1, "2022": 1}


@pytest.mark.parametrize(
    "request_, expected",
    [
        (SearchQuery(topics=["platform_moderation"]), 2),
        (SearchQuery(topics=["platform_moderation", "policy"]), 1),
        (SearchQuery(source="Harbour Courier"), 2),
        (SearchQuery(date_from="2019", date_to="2021"), 2),
        (SearchQuery(date_from="2021-05-12", date_to="2021-05-12"), 1),
        (SearchQuery(date_from="2022-02"), 1),
        (SearchQuery(date_to="2013-12-31"), 1),
        (SearchQuery(q="topic:prevention"), 1),
        (SearchQuery(q="title:police"), 1),
        (SearchQuery(q='"duty of care"'), 1),
        (SearchQuery(q="platform NOT moderators"), 1),
    ],
)
def test_filters_and_query_syntax(archive, request_, expected):
    result = archive.search(request_)
    assert result.total == expected == len(result.hits)


def test_filter_counts_are_exact_with_a_small_page(archive):
    result = archive.search(SearchQuery(date_from="2013", date_to="2022", per_page=1))
    assert result.total == 4


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_date_orders_put_undated_articles_last(archive, sort):
    dates = [h.date for h in archive.search(SearchQuery(sort=sort)).hits]
    assert dates[-1] is None
    assert dates[:-1] == sorted(dates[:-1], reverse=sort == "newest")


def test_browsing_without_words_lists_newest_first(archive):
    dates = [h.date for h in archive.search(SearchQuery(q="", sort="relevance")).hits]
    assert dates == ["2022-02-01", "2021-05-12", "2019-11-20", "2013-04-02", None]


def test_words_with_relevance_sort_by_score(archive):
    scores = [h.score for h in archive.search(SearchQuery(q="police OR arrested OR helpline")).hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0


def test_pages_cover_every_hit_once(archive):
    seen = []
    for page in (1, 2, 3):
        result = archive.search(SearchQuery(sort="newest", page=page, per_page=2))
        assert result.total == 5 and result.page_count == 3
        seen += [h.id for h in result.hits]
    assert len(seen) == len(set(seen)) == 5


def test_a_page_past_the_end_is_empty_not_the_last_page(archive):
    result = archive.search(SearchQuery(page=9, per_page=2))
    assert result.hits == [] and result.total == 5


@pytest.mark.parametrize("q", ['"unclosed phrase', "(police OR", "police)", "date:[2019 to", 'title:"x'])
def test_unbalanced_queries_raise_one_clear_sentence(archive, q):
    with pytest.raises(InvalidQuery) as info:
        archive.search(SearchQuery(q=q))
    message = str(info.value)
    assert message.endswith(".") and "\n" not in message


@pytest.mark.parametrize("q", ['"(police" arrested', "a [b] (c)", 'say "x) y"'])
def test_brackets_inside_quotes_or_balanced_are_fine(q):
    check_balanced(q)


@pytest.mark.parametrize(
    "text, end, expected",
    [
        ("2019", False, "2019-01-01 00:00:00"),
        ("2019", True, "2019-12-31 23:59:59"),
        ("2020-02", True, "2020-02-29 23:59:59"),
        ("2021-03-04", False, "2021-03-04 00:00:00"),
    ],
)
def test_parse_date_periods(text, end, expected):
    assert str(parse_date(text, end)) == expected


@pytest.mark.parametrize("text", ["2019-13", "yesterday", "2019-02-30", "19"])
def test_parse_date_refuses_non_dates(text):
    with pytest.raises(InvalidQuery, match="not a date"):
        parse_date(text, end=False)


def test_start_after_end_is_refused(archive):
    with pytest.raises(InvalidQuery, match="after"):
        archive.search(SearchQuery(date_from="2022", date_to="2020"))

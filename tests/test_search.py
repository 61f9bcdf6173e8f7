"""Search: parsing, filters, facets, sorting, paging and highlighting, against a small real index."""

import re

import pytest

from archive.errors import ArticleNotFound, InvalidQuery
from archive.models import Article, SearchQuery, TopicScore
from archive.search import check_balanced, parse_date, split_date_ranges
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


# -- the query language: dates, languages, fuzzy terms ------------------------------------------


@pytest.mark.parametrize(
    "q, expected",
    [
        ("date:2021", {"Ministers publish the Online Safety Bill"}),
        ("date:2019-11", {"Charity helpline calls rise"}),
        ("date:[2019 to 2021]", {"Ministers publish the Online Safety Bill", "Charity helpline calls rise"}),
        ("date:>2020", {"Ministers publish the Online Safety Bill", "Platform removes accounts"}),
        ("date:<2019-06", {"Police arrested a man after the CEOP referral"}),
        ("police date:>2020", {"Platform removes accounts"}),
        (
            "police OR date:2021",
            {
                "Police arrested a man after the CEOP referral",
                "Platform removes accounts",
                "Ministers publish the Online Safety Bill",
            },
        ),  # fmt: skip
        ("police NOT date:2013", {"Platform removes accounts"}),
    ],
)
def test_dates_in_the_query(archive, q, expected):
    result = archive.search(SearchQuery(q=q))
    assert set(titles(result)) == expected
    assert result.total == len(expected)


def test_a_required_date_range_becomes_a_filter_but_one_under_or_stays(archive):
    engine = archive._engine
    query, ranges = split_date_ranges(engine.parse("police date:[2019 to 2021]"))
    assert len(ranges) == 1 and "date" not in {t[0] for t in query.all_terms()}
    query, ranges = split_date_ranges(engine.parse("police OR date:2021"))
    assert ranges == []


@pytest.mark.parametrize("q", ["date:banana", "date:[2019 to banana]", "police date:2021-13"])
def test_unreadable_dates_are_refused_with_examples(archive, q):
    with pytest.raises(InvalidQuery, match=r"date:\[2019 to 2021\]"):
        archive.search(SearchQuery(q=q))


def test_fuzzy_terms(archive):
    assert titles(archive.search(SearchQuery(q="helpine~"))) == ["Charity helpline calls rise"]
    assert archive.search(SearchQuery(q="helpine")).total == 0


@pytest.fixture
def languages(tmp_path):
    arch = Archive(tmp_path / "langs")
    for title, body, language in [
        ("Online safety law", "The parliament passed an online safety law.", "en"),
        ("Loi sur la sécurité", "Le parlement a adopté une loi sur la sécurité en ligne (online).", "fr"),
    ]:
        arch.add(Article(title=title, body=body, language=language, fingerprint=fingerprint(body)))
    yield arch
    arch.close()


def test_language_filter_field_and_facet(languages):
    assert titles(languages.search(SearchQuery(q="online", language="fr"))) == ["Loi sur la sécurité"]
    assert titles(languages.search(SearchQuery(q="online lang:en"))) == ["Online safety law"]
    assert languages.search(SearchQuery(q="online")).facets["language"] == {"en": 1, "fr": 1}


# -- did-you-mean ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "q, suggestion",
    [
        ("helpine", "helpline"),
        ("moderatrs", "moderators"),  # the word as written, not its stem
        ('"online safty"', '"online safety"'),
        ("title:charty", "title:charity"),
        ("helpine date:2019", "helpline date:2019"),
    ],
)
def test_did_you_mean_offers_a_query_that_finds_more(archive, q, suggestion):
    result = archive.search(SearchQuery(q=q))
    assert result.suggestion == suggestion
    assert archive.search(SearchQuery(q=suggestion)).total > result.total


def test_no_suggestion_when_the_words_are_known_or_results_plenty(archive):
    assert archive.search(SearchQuery(q="helpline")).suggestion is None
    assert archive.search(SearchQuery(q="xqzvbn")).suggestion is None  # nothing near it
    assert archive.search(SearchQuery(q="")).suggestion is None


# -- the timeline ---------------------------------------------------------------------------------


def test_timeline_by_year_over_a_long_span_with_gaps_as_zeros(archive):
    timeline = archive.search(SearchQuery(q="")).timeline
    assert timeline.unit == "year"
    assert [b.period for b in timeline.buckets] == [str(y) for y in range(2013, 2023)]
    by_period = {b.period: b for b in timeline.buckets}
    assert by_period["2015"].total == 0
    assert by_period["2019"].topics == {"prevention": 1}
    assert timeline.undated == 1
    assert sum(b.total for b in timeline.buckets) + timeline.undated == 5


def test_timeline_by_month_over_a_short_span(archive):
    timeline = archive.search(SearchQuery(q="", date_from="2019", date_to="2021")).timeline
    assert timeline.unit == "month"
    assert timeline.buckets[0].period == "2019-11" and timeline.buckets[-1].period == "2021-05"
    assert len(timeline.buckets) == 19
    assert [b.period for b in timeline.buckets if b.total] == ["2019-11", "2021-05"]
    assert timeline.buckets[0].topics == {"prevention": 1}
    assert timeline.buckets[-1].total == 1 and set(timeline.buckets[-1].topics) <= {"policy", "platform_moderation"}


def test_timeline_stacks_add_up_to_the_total(archive):
    for bucket in archive.search(SearchQuery(q="")).timeline.buckets:
        assert sum(bucket.topics.values()) == bucket.total


def test_timeline_of_undated_matches_only(archive):
    timeline = archive.search(SearchQuery(q="markup")).timeline
    assert timeline.buckets == [] and timeline.undated == 1


# -- every match, for exports ---------------------------------------------------------------------


def test_search_all_yields_every_match_in_order(archive):
    hits = list(archive.search_all(SearchQuery(q="", sort="oldest", per_page=1)))
    assert len(hits) == 5
    assert [h.date for h in hits] == ["2013-04-02", "2019-11-20", "2021-05-12", "2022-02-01", None]
    assert all(h.snippet for h in hits)


# -- similar articles -----------------------------------------------------------------------------


@pytest.fixture
def story(tmp_path):
    arch = Archive(tmp_path / "story")
    reports = [
        ("Operation Falcon: police arrest 40 in grooming network raid",
         "Police in Manchester arrested forty people in Operation Falcon, a raid on an online grooming "
         "network that targeted children through gaming chats. Detectives seized phones and laptops.",
         "2023-06-01", "Harbour Courier"),
        ("Forty arrested in Operation Falcon grooming raid",
         "Forty people were arrested by Manchester police in Operation Falcon, which broke up an online "
         "grooming network that used gaming chats to reach children. Phones and laptops were seized.",
         "2023-06-02", "Northern Ledger"),
        ("Gaming chats used for grooming, charity warns",
         "A charity warned parents that online grooming often starts in gaming chats, and urged "
         "children to report strangers. Police welcomed the advice.",
         "2021-01-10", "Civic Tech Review"),
        ("Bread prices rise", "The price of bread rose again this month, bakers said.", "2023-06-01", "Daily"),
    ]  # fmt: skip
    for title, body, date, source in reports:
        arch.add(Article(title=title, body=body, published=date, source=source, fingerprint=fingerprint(body)))
    yield arch
    arch.close()


def test_similar_tells_the_same_story_apart_from_more_like_this(story):
    first = story.search(SearchQuery(q='"Operation Falcon" police arrest 40')).hits[0]
    similar = story.similar(first.id)
    assert [h.title for h in similar.same_story] == ["Forty arrested in Operation Falcon grooming raid"]
    assert [h.title for h in similar.more_like_this] == ["Gaming chats used for grooming, charity warns"]


def test_similar_of_an_unknown_article_is_not_found(story):
    with pytest.raises(ArticleNotFound):
        story.similar("nope")


def test_greater_than_a_date_is_strict_and_or_equal_is_not(archive):
    assert set(titles(archive.search(SearchQuery(q="date:>2021")))) == {"Platform removes accounts"}
    assert archive.search(SearchQuery(q="date:>=2021")).total == 2
    assert set(titles(archive.search(SearchQuery(q="date:<2019-11-20")))) == {
        "Police arrested a man after the CEOP referral"
    }
    assert archive.search(SearchQuery(q="date:<=2019-11-20")).total == 2


def test_fuzzy_terms_start_from_the_word_as_typed(archive):
    # "moderatrs" stems to "moderatr", far from the stem "moder"; the typed word is one edit from "moderators"
    assert titles(archive.search(SearchQuery(q="moderatrs~"))) == ["Platform removes accounts"]


def test_a_leading_minus_leaves_a_word_out(archive):
    with_police = archive.search(SearchQuery(q="arrested")).total
    assert with_police == 2
    assert titles(archive.search(SearchQuery(q="arrested -police"))) == ["Undated note <script>alert(1)</script>"]
    assert archive.search(SearchQuery(q="arrested NOT police")).total == 1


def test_a_minus_inside_a_date_or_word_is_not_an_exclusion(archive):
    assert titles(archive.search(SearchQuery(q="police date:2013-04"))) == [
        "Police arrested a man after the CEOP referral"
    ]
    assert archive.search(SearchQuery(q="helpline-calls")).total == 1

"""The query parser and the search API, fed random queries and parameters: a result or a clean
InvalidQuery (a 400 on the web), never an exception or a 500."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.errors import InvalidQuery
from archive.models import SearchQuery
from tests.conftest import make_app

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Pieces of the query language, glued at random: fields, operators, ranges, wildcards, quotes, brackets.
PIECES = ["child", "grooming", "CEOP", "AND", "OR", "NOT", "-", "+", '"', "(", ")", "[", "]", "{", "}", "*", "?",
          "~", "~2", "^2", ":", "title:", "topic:", "source:", "author:", "lang:", "date:", "date:>", "date:<=",
          "date:[2019 to 2021]", "date:[last week to now]", "2021-13-45", "to", "\\", "'", "/", "é", "\u200b",
          "policy", "off_topic", " ", "  "]  # fmt: skip
QUERIES = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60),
)
PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "q": QUERIES,
        "topic": st.sampled_from(["policy", "off_topic", "cooking", "", "x" * 300]),
        "from": st.sampled_from(["2020", "2021-02", "2021-02-30", "yesterday", "", "0000"]),
        "to": st.sampled_from(["2024", "2024-12-31", "1/2/2020", ""]),
        "sort": st.sampled_from(["relevance", "newest", "oldest", "random", ""]),
        "page": st.sampled_from(["1", "2", "0", "-3", "99999999999999999999", "two"]),
        "per_page": st.sampled_from(["10", "0", "1000", "many"]),
        "lang": st.sampled_from(["en", "xx", "", "<script>"]),
    },
)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    from ingest.pipeline import ingest_sources
    from tests.conftest import SEEDS
    from web.extension import close_archive, get_archive

    app = make_app(tmp_path_factory.mktemp("fuzz") / "data")
    with app.app_context():
        list(ingest_sources(get_archive(), [str(SEEDS)]))
    yield app
    close_archive(app)


@SETTINGS
@given(q=QUERIES)
def test_random_queries_give_a_result_or_a_clean_error(seeded_archive, q):
    try:
        result = seeded_archive.search(SearchQuery(q=q))
    except InvalidQuery as exc:
        assert str(exc)
    else:
        assert result.total >= 0 and all(h.id for h in result.hits)


@SETTINGS
@given(params=PARAMS)
def test_random_search_parameters_never_make_a_server_error(fuzz_app, params):
    client = fuzz_app.test_client()
    for path in ("/search", "/api/search"):
        response = client.get(path, query_string=params)
        assert response.status_code in (200, 400), (path, params, response.status_code)


@pytest.mark.parametrize("q", ["00\x1b00", "childdate:[2019 to 2021]", '"helpine childdate:[1 to 2]"'])
def test_queries_that_once_broke_the_spelling_suggestion_answer(seeded_archive, q):
    result = seeded_archive.search(SearchQuery(q=q))
    assert result.total >= 0

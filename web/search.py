"""The results page: the search form, hits, facets that refine, and pagination."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template, request

from archive.errors import InvalidQuery
from archive.models import SearchResult

from .extension import get_archive
from .formatting import language_name, topic_label
from .search_state import BadParameter, SearchState, state_from_request
from .timeline import timeline_chart

bp = Blueprint("search", __name__)

FACET_LIMIT = 12  # values shown per facet; selected values are always shown


@dataclass(frozen=True)
class FacetValue:
    key: str  # the value as filtered on: topic name, source, year
    label: str
    count: int
    url: str  # adds the filter, or removes it when selected
    selected: bool


@dataclass(frozen=True)
class FacetGroup:
    name: str
    title: str
    values: list[FacetValue]


@bp.get("/")
@bp.get("/search")
def results():
    arch = get_archive()
    try:
        state = state_from_request(request.args, arch)
    except BadParameter as exc:
        return _render(SearchState(q=request.args.get("q", "").strip()), error=str(exc)), 400
    try:
        result = arch.search(state.to_query(arch.config.per_page))
    except InvalidQuery as exc:
        return _render(state, error=str(exc)), 400
    return _render(state, result=result)


def _render(state: SearchState, *, result: SearchResult | None = None, error: str | None = None) -> str:
    return render_template(
        "search.html",
        state=state,
        result=result,
        error=error,
        chips=state.chips(topic_label),
        facets=facet_groups(state, result) if result else [],
        timeline=timeline_chart(result.timeline, state, get_archive().taxonomy.names, topic_label) if result else None,
        pages=page_window(state.page, result.page_count) if result else [],
        past_end=bool(result and result.total and state.page > result.page_count),
    )


def facet_groups(state: SearchState, result: SearchResult) -> list[FacetGroup]:
    """Topic, source, year and language facets with links that add (or, when selected, remove) a filter."""
    facets = result.facets
    topics = [
        FacetValue(
            name,
            topic_label(name),
            count,
            state.without_topic(name) if name in state.topics else state.with_topic(name),
            name in state.topics,
        )
        for name, count in _top(facets.get("topic", {}), state.topics)
    ]
    sources = [
        FacetValue(
            name,
            name,
            count,
            state.url(source=None) if name == state.source else state.url(source=name),
            name == state.source,
        )
        for name, count in _top(facets.get("source", {}), [state.source])
    ]
    year_counts = {y: c for y, c in _top(facets.get("year", {}), [state.year])}
    years = [
        FacetValue(
            year,
            year,
            year_counts[year],
            state.url(date_from=None, date_to=None) if year == state.year else state.with_year(year),
            year == state.year,
        )
        for year in sorted(year_counts, reverse=True)
    ]
    languages = [
        FacetValue(
            code,
            language_name(code),
            count,
            state.url(language=None) if code == state.language else state.url(language=code),
            code == state.language,
        )
        for code, count in _top(facets.get("language", {}), [state.language])
    ]
    groups = [
        FacetGroup("topic", "Topic", topics),
        FacetGroup("source", "Source", sources),
        FacetGroup("year", "Year", years),
        FacetGroup("language", "Language", languages),
    ]
    return [g for g in groups if g.values]


def _top(counts: dict[str, int], selected) -> list[tuple[str, int]]:
    """The most frequent values, plus any selected value, most frequent first."""
    ranked = sorted(((k, v) for k, v in counts.items() if k), key=lambda kv: (-kv[1], kv[0]))
    kept = ranked[:FACET_LIMIT]
    kept += [(k, v) for k, v in ranked[FACET_LIMIT:] if k in selected]
    return kept


def page_window(current: int, count: int, radius: int = 2) -> list[int | None]:
    """Page numbers to link: first, last and those near the current page; None marks a gap."""
    shown = sorted({1, count, *range(max(1, current - radius), min(count, current + radius) + 1)})
    window: list[int | None] = []
    for number in shown:
        if window and number - window[-1] > 1:  # type: ignore[operator]
            window.append(None)
        window.append(number)
    return window

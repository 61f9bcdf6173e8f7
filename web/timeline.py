"""The timeline above the results: matches per month or year, stacked by primary topic, laid out
for an inline SVG drawn on the server (no JavaScript), with links that narrow the date range."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from archive.index import NO_TOPIC
from archive.models import Timeline, TimelineBucket

from .formatting import format_date
from .search_state import SearchState

WIDTH = 720  # SVG user units; CSS scales the chart to its column
HEIGHT = 120
AXIS = 18  # room under the bars for period labels
GAP = 0.2  # share of each slot left empty between bars
MAX_LABELS = 8  # period labels shown under the bars


@dataclass(frozen=True)
class Segment:
    """One topic's part of a bar."""

    topic: str
    label: str
    count: int
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    """One month or year: its slot, its stacked segments, and the URL that narrows to it."""

    period: str
    label: str  # "Mar 2021" or "2021"
    total: int
    x: float
    width: float
    segments: list[Segment]
    url: str
    description: str  # the bar's tooltip and accessible name


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Legend:
    topic: str
    label: str
    count: int


@dataclass(frozen=True)
class TimelineChart:
    unit: str
    bars: list[Bar]
    ticks: list[Tick]
    legend: list[Legend]
    peak: int
    undated: int
    width: int = WIDTH
    height: int = HEIGHT
    plot_height: int = HEIGHT - AXIS


def timeline_chart(
    timeline: Timeline | None, state: SearchState, topics: Sequence[str], label: Callable[[str], str]
) -> TimelineChart | None:
    """The chart for a result's timeline; None when no match has a date."""
    if timeline is None or not timeline.buckets or not timeline.peak:
        return None
    order = [*topics, NO_TOPIC]
    names = {t: (label(t) if t != NO_TOPIC else "No topic") for t in order}
    slot = WIDTH / len(timeline.buckets)
    plot = HEIGHT - AXIS
    bars = []
    for i, bucket in enumerate(timeline.buckets):
        bars.append(_bar(bucket, i * slot, slot, plot, timeline.peak, order, names, state, timeline.unit))
    used = {t for b in timeline.buckets for t, c in b.topics.items() if c}
    totals = {t: sum(b.topics.get(t, 0) for b in timeline.buckets) for t in order}
    return TimelineChart(
        unit=timeline.unit,
        bars=bars,
        ticks=_ticks(bars),
        legend=[Legend(t, names[t], totals[t]) for t in order if t in used],
        peak=timeline.peak,
        undated=timeline.undated,
    )


def _bar(bucket: TimelineBucket, x, slot, plot, peak, order, names, state: SearchState, unit: str) -> Bar:
    segments = []
    y = plot
    for topic in order:
        count = bucket.topics.get(topic, 0)
        if not count:
            continue
        height = plot * count / peak
        y -= height
        segments.append(Segment(topic, names[topic], count, round(y, 2), round(height, 2)))
    label = format_date(bucket.period)
    parts = ", ".join(f"{s.label} {s.count}" for s in segments)
    noun = "article" if bucket.total == 1 else "articles"
    description = f"{label}: {bucket.total} {noun}" + (f" ({parts})" if parts else "")
    if unit == "year":
        url = state.with_year(bucket.period)
    else:
        url = state.url(date_from=bucket.period, date_to=bucket.period)
    return Bar(
        bucket.period, label, bucket.total, round(x + slot * GAP / 2, 2), round(slot * (1 - GAP), 2), segments, url,
        description,
    )  # fmt: skip


def _ticks(bars: list[Bar]) -> list[Tick]:
    """Labels under evenly spaced bars, first and last included."""
    if not bars:
        return []
    step = max(1, -(-len(bars) // MAX_LABELS))
    chosen = list(range(0, len(bars), step))
    if chosen[-1] != len(bars) - 1 and len(bars) - 1 - chosen[-1] >= step / 2:
        chosen.append(len(bars) - 1)
    return [Tick(round(bars[i].x + bars[i].width / 2, 2), bars[i].label) for i in chosen]

"""The Sources page: the feeds the archive follows, for everyone who reads; adding, polling, pausing and
removing them, for editors."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from archive.errors import ArchiveError
from archive.serialize import poll_report_to_dict
from archive.subscriptions import DEFAULT_EVERY, Source
from ingest.follow import Poller, PollReport, add_source
from ingest.sources import is_url

from .auth import current_user, editor_required
from .extension import get_archive
from .search_state import SearchState

bp = Blueprint("sources", __name__)

MAX_URL_CHARS = 2000
STATUS_LABELS = {"new": "New", "ok": "OK", "failed": "Failed", "paused": "Paused"}
# What a poll's counts are called in its one-line summary, in the order they are named.
COUNT_WORDS = (("added", "added"), ("updated", "updated"), ("duplicate", "duplicate"),
               ("off_topic", "off-topic"), ("failed", "failed"))  # fmt: skip


@dataclass(frozen=True)
class SourceForm:
    """What the add form was given, to show it again beside an error."""

    url: str = ""
    name: str = ""
    every: str = DEFAULT_EVERY
    on_topic_only: bool = False


@bp.get("/sources")
def index():
    return _sources_page(SourceForm())


@bp.post("/sources")
@editor_required
def add():
    form = SourceForm(
        url=request.form.get("url", "").strip(),
        name=request.form.get("name", "").strip(),
        every=request.form.get("every", "").strip() or DEFAULT_EVERY,
        on_topic_only=request.form.get("on_topic_only") is not None,
    )
    if not form.url:
        return _sources_page(form, error="Give the address of a feed, or of a page that names its feed."), 400
    if not is_url(form.url) or len(form.url) > MAX_URL_CHARS:
        error = f"“{form.url[:80]}” is not a web address; addresses start with http:// or https://."
        return _sources_page(form, error=error), 400
    arch = get_archive()
    try:
        source = add_source(arch, form.url, name=form.name or None, every=form.every, on_topic_only=form.on_topic_only)
    except ArchiveError as exc:
        return _sources_page(form, error=str(exc)), 400
    arch.accounts.record(current_user().name, "source-add", source.name, f"{source.url} every {source.every}")
    flash(f"Now following {source.name}, every {source.every}. Poll it now to fetch its articles at once.", "done")
    return redirect(url_for("sources.index"))


@bp.post("/sources/<int:source_id>/poll")
@editor_required
def poll(source_id: int):
    arch = get_archive()
    report = Poller(arch).poll_one(_source_or_404(source_id))
    summary = poll_summary(report)
    arch.accounts.record(current_user().name, "source-poll", report.source, summary)
    flash(summary, "error" if report.status in ("failed", "paused") else "done")
    return redirect(url_for("sources.index"))


@bp.post("/sources/<int:source_id>/pause")
@editor_required
def pause(source_id: int):
    source = _set_paused(source_id, True)
    flash(f"Paused {source.name}: it is not polled on schedule until it is resumed.", "done")
    return redirect(url_for("sources.index"))


@bp.post("/sources/<int:source_id>/resume")
@editor_required
def resume(source_id: int):
    source = _set_paused(source_id, False)
    flash(f"Resumed {source.name}: it is due for a poll now.", "done")
    return redirect(url_for("sources.index"))


@bp.post("/sources/<int:source_id>/remove")
@editor_required
def remove(source_id: int):
    arch = get_archive()
    source = _source_or_404(source_id)
    try:
        arch.sources.remove(source.id)
    except ArchiveError:  # removed by someone else meanwhile
        abort(404)
    arch.accounts.record(current_user().name, "source-remove", source.name, source.url)
    flash(f"No longer following {source.name}; its {source.articles:,} articles stay in the archive.", "done")
    return redirect(url_for("sources.index"))


def poll_summary(report: PollReport) -> str:
    """One line: "Example News: 3 added, 1 duplicate", "…: nothing new", or why the poll failed."""
    if report.status in ("failed", "paused"):
        paused = " It is paused after repeated failures; resume it to poll it on schedule."
        return f"{report.source}: the poll failed: {report.error}" + (paused if report.status == "paused" else "")
    counts = poll_report_to_dict(report)
    parts = ", ".join(f"{counts[key]:,} {word}" for key, word in COUNT_WORDS if counts[key])
    problems = f" (problems: {report.error})" if report.error else ""
    return f"{report.source}: {parts or 'nothing new'}{problems}"


def _source_or_404(source_id: int) -> Source:
    source = get_archive().sources.find(source_id)
    if source is None:
        abort(404)
    return source


def _set_paused(source_id: int, paused: bool) -> Source:
    arch = get_archive()
    _source_or_404(source_id)
    try:
        source = arch.sources.set_paused(source_id, paused)
    except ArchiveError:  # removed by someone else meanwhile
        abort(404)
    arch.accounts.record(current_user().name, "source-pause" if paused else "source-resume", source.name)
    return source


def _sources_page(form: SourceForm, error: str | None = None) -> str:
    sources = get_archive().sources.list()
    return render_template(
        "sources.html", sources=sources, form=form, error=error, status_labels=STATUS_LABELS, state=SearchState()
    )

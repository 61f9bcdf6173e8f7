"""What editors do in the browser: ingest files, links and pasted text; correct an article's topics;
delete an article; read the audit log of every change."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import PurePath

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from archive.errors import ArchiveError, ArticleNotFound
from archive.models import IngestOutcome
from ingest.pipeline import ingest_documents
from ingest.sources import SourceRef, is_url, pasted_text, read_bytes, read_source

from .auth import current_user, editor_required
from .extension import get_archive
from .formatting import topic_label
from .search_state import SearchState

bp = Blueprint("curation", __name__)

MAX_URLS = 50  # links one form may ask to fetch
MAX_TEXT_CHARS = 2_000_000


@dataclass(frozen=True)
class IngestForm:
    """What the ingest form was given, to show it again beside the outcomes."""

    urls: str = ""
    title: str = ""
    text: str = ""


@bp.route("/ingest", methods=["GET", "POST"])
@editor_required
def ingest():
    if request.method == "GET":
        return _ingest_page(IngestForm())
    form = IngestForm(
        urls=request.form.get("urls", ""), title=request.form.get("title", ""), text=request.form.get("text", "")
    )
    try:
        readers = _readers(form)
    except ValueError as exc:
        return _ingest_page(form, error=str(exc)), 400
    if not readers:
        return _ingest_page(form, error="Choose files, paste links, or paste a text with its title."), 400
    arch = get_archive()
    outcomes = list(ingest_documents(arch, readers))
    user = current_user().name
    for outcome in outcomes:
        if outcome.status in {"added", "updated"}:
            arch.accounts.record(user, "ingest", outcome.id, f"{outcome.status}: {outcome.title}")
    # Give back only what failed, to correct and send again; what went in is not offered twice.
    failed = {o.source for o in outcomes if o.status == "failed"}
    retry = IngestForm(
        urls="\n".join(line.strip() for line in form.urls.splitlines() if line.strip() in failed),
        title=form.title if "pasted text" in failed else "",
        text=form.text if "pasted text" in failed else "",
    )
    return _ingest_page(retry, outcomes=outcomes), 200


def _readers(form: IngestForm) -> list:
    """One reader per uploaded file, link and pasted text; the files are read in memory."""
    config = get_archive().config
    readers = []
    for upload in request.files.getlist("files"):
        if not upload or not upload.filename:
            continue
        name = PurePath(upload.filename.replace("\\", "/")).name[:200] or "upload"  # a label, never a path
        data = upload.read(config.max_input_bytes + 1)
        readers.append((name, partial(read_bytes, name, data, config)))
    links = [line.strip() for line in form.urls.splitlines() if line.strip()]
    if len(links) > MAX_URLS:
        raise ValueError(f"Paste at most {MAX_URLS} links at a time.")
    for link in links:
        if not is_url(link):
            raise ValueError(f"“{link[:80]}” is not a web address; links start with http:// or https://.")
        readers.append((link, partial(read_source, SourceRef(origin=link, url=link), config)))
    if form.text.strip():
        if not form.title.strip():
            raise ValueError("Give the pasted text a title.")
        if len(form.text) > MAX_TEXT_CHARS:
            raise ValueError(f"The pasted text is longer than {MAX_TEXT_CHARS:,} characters.")
        readers.append(("pasted text", partial(pasted_text, form.title, form.text)))
    return readers


def _ingest_page(form: IngestForm, outcomes: list[IngestOutcome] | None = None, error: str | None = None) -> str:
    return render_template("ingest.html", form=form, outcomes=outcomes, error=error, state=SearchState())


@bp.post("/articles/<article_id>/topics")
@editor_required
def correct_topic(article_id: str):
    topic = request.form.get("topic", "")
    action = request.form.get("action", "")
    if action not in {"add", "remove"}:
        abort(400)
    try:
        get_archive().correct(article_id, topic, action, current_user().name)
    except ArticleNotFound:
        abort(404)
    except ArchiveError as exc:
        flash(str(exc), "error")
    return redirect(url_for("articles.show", article_id=article_id) + "#topics")


@bp.post("/articles/<article_id>/topics/confirm")
@editor_required
def confirm_topics(article_id: str):
    try:
        article = get_archive().confirm(article_id, current_user().name)
    except ArticleNotFound:
        abort(404)
    flash(f"Confirmed: {', '.join(topic_label(t) for t in article.topics) or 'no topic'}.", "done")
    return redirect(url_for("articles.show", article_id=article_id) + "#topics")


@bp.route("/articles/<article_id>/delete", methods=["GET", "POST"])
@editor_required
def delete(article_id: str):
    arch = get_archive()
    try:
        article = arch.get(article_id)
    except ArticleNotFound:
        abort(404)
    if request.method == "GET":
        return render_template("delete.html", article=article, state=SearchState())
    try:
        arch.delete(article_id, current_user().name)
    except ArticleNotFound:  # deleted by someone else meanwhile
        abort(404)
    flash(f"Deleted “{article.title}”.", "done")
    return redirect(url_for("search.results"))


@bp.get("/audit")
@editor_required
def audit():
    entries = get_archive().accounts.audit_log(limit=500)
    return render_template("audit.html", entries=entries, state=SearchState())

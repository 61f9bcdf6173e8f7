"""`archive sources ...` and `archive follow`: feeds the archive follows and polls on a schedule."""

from __future__ import annotations

import signal
import threading

import click

from .cli_support import Context, Failure, emit, failing, pass_ctx
from .serialize import poll_report_to_dict, source_to_dict
from .subscriptions import DEFAULT_EVERY


def _echo_report(report) -> None:
    counts = report.counts
    if report.status in ("failed", "paused"):
        paused = "; paused after repeated failures" if report.status == "paused" else ""
        click.echo(f"{report.source}: failed: {report.error}{paused}", err=True)
        return
    parts = [
        f"{counts[k]} {label}"
        for k, label in (
            ("added", "added"),
            ("updated", "updated"),
            ("duplicate", "duplicate"),
            ("off-topic", "off-topic"),
            ("failed", "failed"),
        )
        if counts[k]
    ]
    click.echo(f"{report.source}: {', '.join(parts) or 'nothing new'}")
    if report.error:
        click.echo(f"archive: warning: {report.source}: {report.error}", err=True)


@click.group()
def sources() -> None:
    """Feeds the archive follows: add, list, remove, pause, resume and poll them."""


@sources.command("add")
@click.argument("url")
@click.option("--name", help="What to call the source (default: the feed's title).")
@click.option("--every", default=DEFAULT_EVERY, show_default=True, help="How often to poll it: 30m, 2h, 1d.")
@click.option("--on-topic-only", is_flag=True, help="Keep only entries the tagger finds about child protection.")
@click.option("--json", "as_json", is_flag=True, help="Print the source as one JSON object.")
@pass_ctx
def add(ctx: Context, url: str, name: str | None, every: str, on_topic_only: bool, as_json: bool) -> None:
    """Follow the RSS/Atom feed at URL, or the feed a web page at URL names."""
    from ingest.follow import add_source

    with failing():
        source = add_source(ctx.archive(), url, name=name, every=every, on_topic_only=on_topic_only)
    if as_json:
        emit(source_to_dict(source))
    else:
        click.echo(
            f"following {source.name} ({source.url}) every {source.every}; `archive sources poll` fetches it now"
        )


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source.")
@pass_ctx
def list_(ctx: Context, as_json: bool) -> None:
    """Each source with its status, last poll, last error and article count."""
    found = ctx.archive().sources.list()
    for source in found:
        if as_json:
            emit(source_to_dict(source))
            continue
        last = source.last_poll_at or "never polled"
        click.echo(
            f"{source.name}\t{source.status}\tevery {source.every}\t{source.articles} articles\tlast poll {last}"
            f"\t{source.url}" + (f"\terror: {source.last_error}" if source.last_error else "")
        )
    if not found and not as_json:
        click.echo("no sources yet: `archive sources add URL` follows a feed", err=True)


@sources.command("remove")
@click.argument("name")
@pass_ctx
def remove(ctx: Context, name: str) -> None:
    """Stop following NAME; the articles it brought stay."""
    with failing():
        source = ctx.archive().sources.remove(name)
    click.echo(f"no longer following {source.name}; its {source.articles} articles stay")


@sources.command("pause")
@click.argument("name")
@pass_ctx
def pause(ctx: Context, name: str) -> None:
    """Stop polling NAME on schedule until it is resumed."""
    with failing():
        source = ctx.archive().sources.set_paused(name, True)
    click.echo(f"paused {source.name}")


@sources.command("resume")
@click.argument("name")
@pass_ctx
def resume(ctx: Context, name: str) -> None:
    """Poll NAME on schedule again, from now, with its failure count cleared."""
    with failing():
        source = ctx.archive().sources.set_paused(name, False)
    click.echo(f"resumed {source.name}")


@sources.command("poll")
@click.argument("names", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Poll every source that is not paused, due or not.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source polled.")
@pass_ctx
def poll(ctx: Context, names: tuple[str, ...], everything: bool, as_json: bool) -> None:
    """Fetch due sources (or NAMES, or --all) and ingest their new entries; exit 1 if one failed."""
    from ingest.follow import Poller, due_sources

    if names and everything:
        raise Failure("give source names or --all, not both", 2)
    archive = ctx.archive()
    with failing():
        chosen = due_sources(archive, names, everything)
        reports = Poller(archive).poll(chosen)
    for report in reports:
        emit(poll_report_to_dict(report)) if as_json else _echo_report(report)
    if not chosen and not as_json:
        click.echo("no source is due; `archive sources list` shows when each is", err=True)
    if any(r.status in ("failed", "paused") for r in reports):
        raise SystemExit(1)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per poll on stdout.")
@pass_ctx
def follow(ctx: Context, as_json: bool) -> None:
    """Poll each source when it is due, until stopped (Ctrl-C or SIGTERM)."""
    from ingest.follow import follow as follow_sources

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    archive = ctx.archive()
    click.echo(f"following {len(archive.sources.list())} sources; Ctrl-C stops", err=True)
    try:
        with failing():
            follow_sources(archive, stop, report=lambda r: emit(poll_report_to_dict(r)) if as_json else _echo_report(r))
    except KeyboardInterrupt:
        pass

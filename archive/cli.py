"""The `archive` command: thin click commands over `Archive` and the ingest pipeline."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import secrets
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import click

from .accounts import ROLES, check_name, check_role
from .cli_sources import follow, sources
from .cli_support import Context, Failure, emit, failing, pass_ctx, progress
from .cli_tagging import archive_tagger, eval_tags, retag, train
from .cli_watch import watch
from .errors import ArchiveError, InvalidQuery
from .models import Article, SearchQuery
from .serialize import (
    CSV_COLUMNS,
    article_from_record,
    article_to_csv_row,
    article_to_dict,
    article_to_record,
    extraction_to_dict,
    outcome_to_dict,
    result_to_dict,
    snippet_text,
    tag_to_dict,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: $ARCHIVE_DATA, else ./archive-data).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress and warnings to stderr.")
@click.version_option(package_name="topic-archive")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, verbose: bool) -> None:
    """A searchable, topic-tagged archive of news articles about online child protection."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="archive: %(message)s")
    ctx.obj = Context(data_dir)
    ctx.call_on_close(ctx.obj.close)


def _warn_once(warning: str | None, warned: set[str]) -> None:
    """A problem with an input (a malformed feed) on stderr, once however many articles it held."""
    if warning and warning not in warned:
        warned.add(warning)
        click.echo(f"archive: warning: {warning}", err=True)


def _report_ingest(outcomes, as_json: bool, total: int) -> None:
    counts: Counter[str] = Counter()
    warned: set[str] = set()
    with progress(total, not as_json, "ingesting") as bar:
        for outcome in outcomes:
            counts[outcome.status] += 1
            bar.update(1)
            if not as_json and outcome.warning not in warned:
                bar.clear()
                _warn_once(outcome.warning, warned)
            if as_json:
                emit(outcome_to_dict(outcome))
            elif outcome.status == "failed":
                bar.clear()
            else:
                bar.clear()
                extra = f" (duplicate of {outcome.duplicate_of})" if outcome.status == "duplicate" else ""
                topics = "off-topic" if outcome.off_topic else ", ".join(outcome.topics) or "no topic"
                click.echo(f"{outcome.status:<9} {outcome.id}  {outcome.title}  [{topics}]{extra}")
            if outcome.status == "failed":
                click.echo(f"archive: {outcome.error}", err=True)
    summary = ", ".join(f"{counts[s]} {s}" for s in ("added", "updated", "duplicate", "failed"))
    if not as_json:
        click.echo(summary, err=True)
    if counts["failed"]:
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input on stdout.")
@click.argument("sources", nargs=-1, required=True)
@pass_ctx
def ingest(ctx: Context, sources: tuple[str, ...], as_json: bool) -> None:
    """Add articles from files, folders (recursively), http(s) URLs, or - for stdin."""
    from ingest.pipeline import ingest_refs
    from ingest.sources import expand_sources

    refs, skipped = expand_sources(list(sources))
    if skipped and not as_json:
        click.echo(f"archive: skipped {skipped} file(s) in folders that are not articles", err=True)
    archive = ctx.archive()
    try:
        _report_ingest(ingest_refs(archive, refs), as_json, len(refs))
    finally:
        if archive.unindexed:
            click.echo(
                f"archive: warning: {archive.unindexed} stored article(s) are not searchable yet: the index stayed"
                " busy; run `archive check` to index them",
                err=True,
            )


@main.command("load-samples")
@click.option("--if-empty", is_flag=True, help="Only when the archive holds no article yet.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per sample on stdout.")
@pass_ctx
def load_samples(ctx: Context, if_empty: bool, as_json: bool) -> None:
    """Ingest the bundled sample articles (idempotent: samples already present are duplicates)."""
    from ingest.pipeline import ingest_refs
    from ingest.sources import expand_sources

    archive = ctx.archive()
    if if_empty and archive.count():
        click.echo(f"archive: {archive.data_dir} already holds {archive.count()} articles", err=True)
        return
    folder = Path(str(resources.files("archive").joinpath("samples")))
    refs, _ = expand_sources([str(folder)])
    _report_ingest(ingest_refs(archive, refs), as_json, len(refs))


def _for_each_file(ctx: Context, files: tuple[str, ...], as_json: bool, to_record, echo_record) -> None:
    """Extract each file (storing nothing), print its record as JSON or text; exit 1 if any failed."""
    from ingest.pipeline import process
    from ingest.sources import expand_sources

    refs, _ = expand_sources(list(files))
    failed = False
    warned: set[str] = set()
    for item in process(refs, ctx.config):
        _warn_once(item.warning, warned)
        if item.error is not None:
            failed = True
            click.echo(f"archive: {item.error}", err=True)
        elif as_json:
            emit(to_record(item.origin, item.article))
        else:
            echo_record(to_record(item.origin, item.article))
    sys.exit(1 if failed else 0)


def _echo_scores(record: dict) -> None:
    for topic, score in sorted(record["scores"].items(), key=lambda kv: -kv[1]):
        terms = ", ".join(f"{e['term']} x{e['count']}" for e in record["evidence"][topic][:8])
        click.echo(f"  {topic:<20} {score:.2f}  {terms}")


def _echo_extraction(record: dict) -> None:
    click.echo(f"== {record['source']}")
    for key in ("title", "author", "date", "publisher", "url", "language"):
        click.echo(f"{key + ':':<11}{record[key] or '-'}")
    click.echo(f"\n{record['text']}\n")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input on stdout.")
@click.argument("files", nargs=-1, required=True)
@pass_ctx
def extract(ctx: Context, files: tuple[str, ...], as_json: bool) -> None:
    """Show the clean article extracted from each file; stores nothing."""
    _for_each_file(ctx, files, as_json, extraction_to_dict, _echo_extraction)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input on stdout.")
@click.argument("files", nargs=-1, required=True)
@pass_ctx
def tag(ctx: Context, files: tuple[str, ...], as_json: bool) -> None:
    """Show the topics, scores and evidence for each file; stores nothing."""
    tagger = archive_tagger(ctx)

    def echo(record: dict) -> None:
        verdict = "off-topic" if record["off_topic"] else ", ".join(record["topics"]) or "no topic"
        click.echo(f"== {record['source']}: {verdict} (relevance {record['relevance']:.2f})")
        _echo_scores(record)

    def to_record(origin: str, article: Article) -> dict:
        tagging = tagger.tag(article.title, article.body)
        return tag_to_dict(origin, tagging.scores, tagging.relevance, tagging.unrelated)

    _for_each_file(ctx, files, as_json, to_record, echo)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--topic", "topics", multiple=True, help="Only articles with this topic (repeatable: all must match).")
@click.option("--source", help="Only articles from this source.")
@click.option("--lang", "language", metavar="CODE", help="Only articles in this language (ISO 639-1, e.g. en).")
@click.option("--from", "date_from", metavar="DATE", help="Published on or after DATE (YYYY, YYYY-MM or YYYY-MM-DD).")
@click.option("--to", "date_to", metavar="DATE", help="Published on or before DATE.")
@click.option("--sort", type=click.Choice(["relevance", "newest", "oldest"]), default="relevance", show_default=True)
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(min=1, max=1000), default=10, show_default=True)
@click.argument("query", nargs=-1)
@pass_ctx
def search(
    ctx: Context,
    query: tuple[str, ...],
    as_json: bool,
    topics,
    source,
    language,
    date_from,
    date_to,
    sort,
    page,
    per_page,
) -> None:
    """Search the archive (AND OR NOT, "phrases", prefix*, fuzzy~, title:, topic:, date:[2019 to 2021])."""
    request = SearchQuery(
        q=" ".join(query),
        topics=list(topics),
        source=source,
        language=language,
        date_from=date_from,
        date_to=date_to,
        sort=sort,
        page=page,
        per_page=per_page,
    )
    try:
        result = ctx.archive().search(request)
    except InvalidQuery as exc:
        raise Failure(str(exc), 2) from None
    except ArchiveError as exc:
        raise Failure(str(exc)) from None
    if as_json:
        emit(result_to_dict(result))
        return
    click.echo(f"{result.total} result(s) in {result.took_ms:.0f} ms, page {result.page} of {result.page_count}")
    for n, hit in enumerate(result.hits, start=(page - 1) * per_page + 1):
        meta = " · ".join(x for x in (hit.source, hit.date, ", ".join(hit.topics)) if x)
        click.echo(f"\n{n}. {hit.title}  [{hit.id}]\n   {meta}")
        click.echo(f"   {snippet_text(hit.snippet)[:300]}")
    if result.suggestion:
        click.echo(f"\nDid you mean: {result.suggestion}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the article as one JSON object.")
@click.argument("article_id")
@pass_ctx
def show(ctx: Context, article_id: str, as_json: bool) -> None:
    """Show one article with its metadata, topics and evidence."""
    try:
        article = ctx.archive().get(article_id)
    except ArchiveError as exc:
        raise Failure(str(exc)) from None
    record = article_to_dict(article)
    if as_json:
        emit(record)
        return
    click.echo(record["title"])
    for key in ("id", "source", "author", "date", "url", "language", "ingested_at"):
        click.echo(f"{key + ':':<13}{record[key] or '-'}")
    click.echo(f"{'topics:':<13}{', '.join(record['topics']) or 'none'}")
    _echo_scores(record)
    click.echo(f"\n{record['text']}")


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: setting `host`, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default: setting `port`, 5000).")
@pass_ctx
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the web app with waitress."""
    import waitress

    from web import create_app

    config = ctx.config
    host = host or config.host
    port = port or config.port
    try:
        app = create_app({"DATA_DIR": str(config.data_dir), "SERVED_ON": host})
    except ArchiveError as exc:
        raise Failure(str(exc)) from None
    click.echo(f"topic-archive: serving {config.data_dir} on http://{host}:{port} (Ctrl-C stops)", err=True)
    waitress.serve(app, host=host, port=port, threads=config.threads, ident="topic-archive")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@pass_ctx
def export(ctx: Context, fmt: str) -> None:
    """Write every article to stdout: JSON Lines (text, topics, scores, evidence, corrections) or CSV."""
    import csv

    archive = ctx.archive()
    if fmt == "jsonl":
        for article in archive.articles():
            emit(article_to_record(article))
        return
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for article in archive.articles():
        writer.writerow(article_to_csv_row(article))


@main.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@pass_ctx
def import_(ctx: Context, file) -> None:
    """Restore articles from `archive export` JSON Lines ("-" for stdin): ids, scores, evidence,
    corrections and dates as they were. Articles already present are skipped."""
    archive = ctx.archive()
    failed = 0

    def records() -> Iterator[Article]:
        nonlocal failed
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                yield article_from_record(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                failed += 1
                message = exc.args[0] if isinstance(exc, ValueError) and exc.args else f"missing or bad {exc}"
                click.echo(f"archive: error: line {number}: {message}", err=True)

    try:
        counts = archive.import_articles(records())
    except ArchiveError as exc:
        raise Failure(str(exc)) from None
    click.echo(f"{counts['added']} added, {counts['duplicate']} already present, {failed} failed", err=True)
    if failed:
        raise SystemExit(1)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@pass_ctx
def backup(ctx: Context, directory: Path) -> None:
    """Copy the store (SQLite's online backup, safe while the app runs) and the settings into DIRECTORY."""
    import shutil

    archive = ctx.archive()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = directory / f"archive-{stamp}"
    try:
        target.mkdir(parents=True)
    except OSError as exc:
        raise Failure(f"cannot create {target}: {exc.strerror or exc}") from None
    archive.store.backup(target / archive.config.store_path.name)
    for extra in (archive.config.taxonomy_path, archive.config.data_dir / "config.toml"):
        if extra.is_file():
            shutil.copy2(extra, target / extra.name)
    click.echo(str(target))
    note = f"backed up {archive.count()} articles; `archive --data {target} ...` uses the copy (indexed on first use)"
    click.echo(note, err=True)


@main.command()
@click.option(
    "--articles",
    type=click.IntRange(min=100),
    default=100_000,
    show_default=True,
    help="Synthetic articles in the benchmark archive.",
)
@click.option("--rounds", type=click.IntRange(min=1), default=5, show_default=True, help="Times each query runs.")
@click.option(
    "--dir",
    "bench_dir",
    type=click.Path(path_type=Path),
    default=Path("bench-data"),
    show_default=True,
    help="Where benchmark archives are kept (one per size, reused by later runs).",
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the figures to this JSON file.")
@click.option("--chart", "chart_path", type=click.Path(path_type=Path), help="Draw latencies to this PNG file.")
def bench(articles: int, rounds: int, bench_dir: Path, json_path: Path | None, chart_path: Path | None) -> None:
    """Time import and search on a synthetic corpus, against an SQLite FTS5 version of the same features."""
    from web import create_app

    from .benchmark import print_report, run, write_chart, write_report

    data_dir = bench_dir / f"{articles}"
    client = None

    def render_page(query_string: str) -> None:
        nonlocal client
        if client is None:
            client = create_app({"DATA_DIR": str(data_dir)}).test_client()
        response = client.get(f"/search?{query_string}")
        if response.status_code != 200:
            raise Failure(f"the search page answered {response.status_code} for {query_string}")

    with progress(articles, True, "importing") as bar:
        report = run(data_dir, articles, rounds=rounds, render_page=render_page, progress=bar.update, echo=click.echo)
    print_report(report, echo=click.echo)
    if json_path:
        write_report(report, json_path)
        click.echo(f"figures written to {json_path}")
    if chart_path:
        if write_chart(report, chart_path):
            click.echo(f"chart written to {chart_path}")
        else:
            click.echo("archive: no chart: matplotlib is not installed (pip install -e '.[bench]')", err=True)


@main.command()
@pass_ctx
def reindex(ctx: Context) -> None:
    """Rebuild the search index from the store."""
    archive = ctx.archive()
    with progress(archive.count(), True, "indexing") as bar:
        count = archive.reindex(progress=bar.update)
    click.echo(f"reindexed {count} articles", err=True)


@main.command()
@pass_ctx
def optimize(ctx: Context) -> None:
    """Merge the search index's segments into one: faster searches after bulk imports. Slow at
    100,000 articles: run it when the archive is quiet (from cron, say), never on the ingest path."""
    with failing():
        before, after = ctx.archive().optimize()
    click.echo(
        f"merged {before} index segments into {after}" if before > 1 else "the index is one segment already", err=True
    )


@main.command()
@click.option("--dry-run", is_flag=True, help="Only report; repair nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@pass_ctx
def check(ctx: Context, dry_run: bool, as_json: bool) -> None:
    """Compare store and index, repair differences; exit 1 when something was wrong."""
    with failing():
        report = ctx.archive(replay=False).check(repair=not dry_run)  # it replays the index log itself, and says so
    if as_json:
        emit(
            {
                "stored": report.stored,
                "indexed": report.indexed,
                "ok": report.ok,
                "repaired": report.repaired,
                "missing_from_index": report.missing_from_index,
                "orphans_in_index": report.orphans_in_index,
                "replayed": report.replayed,
                "unlogged": report.unlogged,
            }
        )
    else:
        click.echo(f"{report.stored} stored, {report.indexed} indexed")
        if report.replayed:
            click.echo(
                f"{report.replayed} logged change(s) not in the index yet"
                + (": replayed them" if report.repaired else "")
            )
        if report.missing_from_index:
            click.echo(
                f"{len(report.missing_from_index)} missing from the index"
                + (": indexed them" if report.repaired else "")
            )
        if report.orphans_in_index:
            click.echo(
                f"{len(report.orphans_in_index)} in the index without a stored article"
                + (": removed them" if report.repaired else "")
            )
        if report.unlogged:
            click.echo(
                f"{len(report.unlogged)} difference(s) no logged change explains"
                + (": repaired by comparing ids" if report.repaired else "")
            )
        if report.ok:
            click.echo("ok")
    sys.exit(0 if report.ok else 1)


# -- accounts --------------------------------------------------------------------------------


def _read_password() -> str:
    """Typed twice without echo on a terminal; otherwise the first line of standard input."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise Failure("no password given: type it at a terminal, or pass it as the first line of stdin")
    return password


@main.group()
def user() -> None:
    """Manage the accounts that sign in to the web app: readers, and editors who may change things."""


@user.command("add")
@click.argument("name")
@click.option("--role", default="reader", show_default=True, metavar="|".join(ROLES), help="The account's role.")
@pass_ctx
def user_add(ctx: Context, name: str, role: str) -> None:
    """Add a user; the password is asked twice, or read from the first line of stdin."""
    with failing(2):
        check_name(name)
        check_role(role)
    accounts = ctx.archive().accounts
    if accounts.get_user(name) is not None:  # before asking for a password in vain
        raise Failure(f"A user named {name!r} already exists.")
    with failing():
        added = accounts.add_user(name, _read_password(), role)
    click.echo(f"archive: added {added.role} {added.name}", err=True)


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per user on stdout.")
@pass_ctx
def user_list(ctx: Context, as_json: bool) -> None:
    """List the users with their roles."""
    users = ctx.archive().accounts.users()
    for account in users:
        if as_json:
            emit(dataclasses.asdict(account))
        else:
            click.echo(f"{account.name:<24} {account.role:<7} created {account.created_at}")
    if not users and not as_json:
        click.echo("archive: no users yet; add one with `archive user add NAME`", err=True)


@user.command("remove")
@click.argument("name")
@pass_ctx
def user_remove(ctx: Context, name: str) -> None:
    """Remove a user."""
    with failing():
        ctx.archive().accounts.remove_user(name)
    click.echo(f"archive: removed user {name}", err=True)


@user.command("passwd")
@click.argument("name")
@pass_ctx
def user_passwd(ctx: Context, name: str) -> None:
    """Set a user's password: asked twice, or read from the first line of stdin."""
    accounts = ctx.archive().accounts
    if accounts.get_user(name) is None:
        raise Failure(f"No user is named {name!r}.")
    with failing():
        accounts.set_password(name, _read_password())
    click.echo(f"archive: changed the password of {name}", err=True)


@user.command("ensure-editor")
@pass_ctx
def user_ensure_editor(ctx: Context) -> None:
    """When no editor exists, create one with a random password and print both once (`make run` does this)."""
    accounts = ctx.archive().accounts
    users = accounts.users()
    if any(account.is_editor for account in users):
        click.echo("archive: an editor account exists already; nothing to do", err=True)
        return
    taken = {account.name.lower() for account in users}
    candidates = itertools.chain(["editor"], (f"editor-{n}" for n in itertools.count(2)))
    name = next(n for n in candidates if n not in taken)  # a reader may already be called "editor"
    password = secrets.token_urlsafe(12)
    with failing():
        accounts.add_user(name, password, "editor")
    click.echo("Created an editor account. Its password is shown this once; change it with")
    click.echo(f"  archive --data {ctx.config.data_dir} user passwd {name}")
    click.echo(f"name:     {name}")
    click.echo(f"password: {password}")


@main.group()
def token() -> None:
    """Manage API tokens, with which scripts use the web API in place of a signed-in user."""


@token.command("create")
@click.argument("name")
@pass_ctx
def token_create(ctx: Context, name: str) -> None:
    """Create an API token and print it, once: only its digest is kept."""
    with failing(2):
        check_name(name, "token")
    with failing():
        secret = ctx.archive().accounts.create_token(name)
    click.echo(f"API token {name!r} created. It is shown this once and cannot be recovered, so keep it now:")
    click.echo(secret)


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per token on stdout.")
@pass_ctx
def token_list(ctx: Context, as_json: bool) -> None:
    """List the API tokens by name, with when each was created and last used."""
    tokens = ctx.archive().accounts.tokens()
    for api_token in tokens:
        if as_json:
            emit(dataclasses.asdict(api_token))
        else:
            used = api_token.last_used_at or "never"
            click.echo(f"{api_token.name:<24} created {api_token.created_at}  last used {used}")
    if not tokens and not as_json:
        click.echo("archive: no API tokens yet; create one with `archive token create NAME`", err=True)


@token.command("revoke")
@click.argument("name")
@pass_ctx
def token_revoke(ctx: Context, name: str) -> None:
    """Revoke an API token: it stops working at once."""
    with failing():
        ctx.archive().accounts.revoke_token(name)
    click.echo(f"archive: revoked token {name}", err=True)


main.add_command(retag)
main.add_command(eval_tags)
main.add_command(train)
main.add_command(sources)
main.add_command(follow)
main.add_command(watch)

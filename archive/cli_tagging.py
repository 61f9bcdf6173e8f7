"""`archive retag`, `archive eval-tags` and `archive train`: the commands that look after topic tagging."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_support import Context, emit, failing, pass_ctx, progress
from .taxonomy import load_taxonomy


def _tagger(ctx: Context):
    """The tagger of this data directory: its taxonomy, and its trained model when one is in use."""
    from ingest.tagger import Tagger

    with failing():
        return Tagger(load_taxonomy(ctx.config.taxonomy_path))


@click.command()
@pass_ctx
def retag(ctx: Context) -> None:
    """Recompute the machine's topics of every article (after a taxonomy change); corrections stay."""
    from ingest.pipeline import tag_article

    tagger = _tagger(ctx)
    archive = ctx.archive()
    with failing(), progress(archive.count(), True, "re-tagging") as bar:
        counts = archive.retag(lambda article: tag_article(article, tagger), progress=bar.update)
    click.echo(f"re-tagged {counts['articles']} articles; {counts['changed']} changed topics")


@click.command("eval-tags")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--quiet", is_flag=True, help="Leave out the list of records it got wrong.")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@pass_ctx
def eval_tags(ctx: Context, file: Path, as_json: bool, quiet: bool) -> None:
    """Tag labelled articles (JSON Lines: text, optional title, topics) and print how well the tags agree:
    precision, recall and F1 per topic, macro and micro F1, and the records it got wrong."""
    from ingest.evaluation import evaluate, format_report, read_labelled, report_to_dict

    tagger = _tagger(ctx)
    with failing():
        records = read_labelled(file)
    report = evaluate(lambda title, text: [s.topic for s in tagger.score(title, text) if s.assigned], records)
    if as_json:
        emit(report_to_dict(report))
    else:
        click.echo(format_report(report, mistakes=not quiet))

"""`archive retag`, `archive eval-tags` and `archive train`: the commands that look after topic tagging."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_support import Context, emit, failing, pass_ctx, progress
from .taxonomy import load_taxonomy


def archive_tagger(ctx: Context, learnt: bool = True):
    """The tagger of this data directory: its taxonomy, and its trained model when one is in use."""
    from ingest.learning import load_tagger
    from ingest.tagger import Tagger

    with failing():
        taxonomy = load_taxonomy(ctx.config.taxonomy_path)
        return load_tagger(taxonomy, ctx.config.tag_model_path) if learnt else Tagger(taxonomy)


@click.command()
@pass_ctx
def retag(ctx: Context) -> None:
    """Recompute the machine's topics of every article (after a taxonomy change); corrections stay."""
    from ingest.pipeline import tag_article

    tagger = archive_tagger(ctx)
    archive = ctx.archive()
    with failing(), progress(archive.count(), True, "re-tagging") as bar:
        counts = archive.retag(lambda article: tag_article(article, tagger), progress=bar.update)
    click.echo(f"re-tagged {counts['articles']} articles; {counts['changed']} changed topics")


@click.command("eval-tags")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--quiet", is_flag=True, help="Leave out the list of records it got wrong.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@pass_ctx
def eval_tags(ctx: Context, files: tuple[Path, ...], as_json: bool, quiet: bool) -> None:
    """Tag labelled articles (JSON Lines: text, optional title, topics) and print how well the tags agree:
    precision, recall and F1 per topic, macro and micro F1, and the records it got wrong."""
    from ingest.evaluation import evaluate, format_report, read_labelled, report_to_dict

    tagger = archive_tagger(ctx)
    with failing():
        records = [record for file in files for record in read_labelled(file)]
    report = evaluate(lambda title, text: [s.topic for s in tagger.score(title, text) if s.assigned], records)
    if as_json:
        emit(report_to_dict(report))
    else:
        click.echo(format_report(report, mistakes=not quiet))


@click.command()
@pass_ctx
def train(ctx: Context) -> None:
    """Learn from the articles people have corrected: a classifier blended with the lexicon, used only
    when cross-validation shows the blend beats the lexicon alone; prints both figures."""
    from ingest.learning import FOLDS, labelled_from_corrections
    from ingest.learning import train as cross_validate_and_fit

    tagger = archive_tagger(ctx, learnt=False)
    records = labelled_from_corrections(ctx.archive().store.corrected())
    path = ctx.config.tag_model_path
    with failing():
        result = cross_validate_and_fit(tagger, records)
    click.echo(
        f"{result.articles} corrected articles, {FOLDS}-fold cross-validation, macro F1:"
        f" lexicon alone {result.lexicon_f1:.3f}, lexicon + classifier {result.blended_f1:.3f}"
    )
    if result.model is not None:
        result.model.save(path)
        click.echo(f"the classifier is now used for new articles (saved to {path}); `archive retag` applies it to all")
    else:
        path.unlink(missing_ok=True)
        click.echo("the classifier did not beat the lexicon: the lexicon stands alone")

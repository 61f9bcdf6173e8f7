"""Learning from corrections: cross-validation against the lexicon, the saved model, `archive train`."""

import random

import pytest

from archive.models import TOPICS, Article
from archive.service import Archive
from archive.taxonomy import load_taxonomy
from ingest.dedup import fingerprint
from ingest.evaluation import Labelled, read_labelled
from ingest.learning import (
    BlendedTagger,
    LinearModel,
    ModelError,
    assigned_topics,
    fit,
    labelled_from_corrections,
    load_tagger,
    train,
)
from ingest.tagger import Tagger
from tests.conftest import PROJECT_ROOT
from tests.test_cli import run

DEV = PROJECT_ROOT / "tests" / "data" / "tagging"

# Words the shipped lexicon does not know, each standing for one topic in these made-up articles.
MARKERS = {"policy": "quokka", "platform_moderation": "zephyr", "law_enforcement": "marmot", "prevention": "heron"}
FILLER = "river stone lantern meadow copper violet harbour pencil orchard ribbon canyon".split()


def made_up(n: int, seed: int = 1) -> list[Labelled]:
    """Articles about child sexual abuse online (so they are related) whose topics only the markers tell."""
    rnd = random.Random(seed)
    records = []
    for i in range(n):
        topics = frozenset(t for t in TOPICS if rnd.random() < 0.45)
        words = [rnd.choice(FILLER) for _ in range(60)] + [MARKERS[t] for t in topics for _ in range(4)]
        rnd.shuffle(words)
        text = "Child sexual abuse online worries everyone. " + " ".join(words) + f" Number {i}."
        records.append(Labelled(str(i), f"Child sexual abuse and grooming online: report {i}", text, topics))
    return records


@pytest.fixture(scope="module")
def tagger():
    return Tagger(load_taxonomy())


def test_a_classifier_that_beats_the_lexicon_is_adopted(tagger):
    result = train(tagger, made_up(60))
    assert result.lexicon_f1 == 0.0 < result.blended_f1  # the lexicon cannot see the markers
    assert result.adopted and result.model.meta["articles"] == 60 and result.model.blend in (0.25, 0.5, 0.75)
    blended = BlendedTagger(tagger, result.model)
    title = "Child sexual abuse and grooming online"
    with_marker = {s.topic: s.score for s in blended.tag(title, "quokka " * 8 + "river stone").scores}
    without = {s.topic: s.score for s in blended.tag(title, "heron " * 8 + "river stone").scores}
    assert with_marker["policy"] > without["policy"] and without["prevention"] > with_marker["prevention"]
    assert [s.evidence for s in blended.tag(title, "quokka").scores] == [
        s.evidence for s in tagger.tag(title, "quokka").scores
    ]  # the evidence stays the lexicon's


def test_a_classifier_that_does_not_beat_the_lexicon_is_not_adopted(tagger):
    # Labels that are the lexicon's own verdicts: it scores 1.0, which no blend can beat.
    records = [r for path in sorted(DEV.glob("*.jsonl")) for r in read_labelled(path)][:80]
    own = [Labelled(r.key, r.title, r.text, frozenset(assigned_topics(tagger)(r.title, r.text))) for r in records]
    result = train(tagger, own)
    assert result.lexicon_f1 == 1.0 and not result.adopted and result.model is None


def test_too_few_corrections_leave_the_lexicon_alone(tagger):
    with pytest.raises(ModelError, match="at least 30 are needed"):
        train(tagger, made_up(10))
    one_sided = [Labelled(r.key, r.title, r.text, frozenset({"policy"})) for r in made_up(40)]
    with pytest.raises(ModelError, match="policy: 40 of 40"):
        train(tagger, one_sided)


def test_a_saved_model_gives_the_same_probabilities_and_a_damaged_one_is_refused(tmp_path):
    model = fit(made_up(40), TOPICS)
    path = tmp_path / "tag_model.json"
    model.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["tag_model.json"]  # nothing partial left beside it
    loaded = LinearModel.load(path)
    text = "Child abuse online quokka marmot river"
    assert loaded.probabilities("T", text) == pytest.approx(model.probabilities("T", text))
    assert isinstance(load_tagger(load_taxonomy(), path), BlendedTagger)
    assert isinstance(load_tagger(load_taxonomy(), tmp_path / "none.json"), Tagger)
    path.write_text('{"version": 1, "vocabulary": {}}')
    with pytest.raises(ModelError, match="is not a tag model"):
        LinearModel.load(path)


def test_only_corrected_articles_are_learnt_from_with_their_corrected_topics(archive):
    from archive.models import TopicScore

    def add(body, scores):
        return archive.add(Article(title="T", body=body, fingerprint=fingerprint(body), scores=scores)).id

    corrected = add("One body.", [TopicScore("policy", 0.9, True)])
    add("Another body.", [TopicScore("policy", 0.9, True)])
    archive.correct(corrected, "policy", "remove", "editor")
    archive.correct(corrected, "prevention", "add", "editor")
    records = labelled_from_corrections(archive.store.corrected())
    assert [(r.key, r.topics) for r in records] == [(corrected, frozenset({"prevention"}))]


def test_archive_train_from_the_shell(tmp_path):
    data = tmp_path / "data"
    proc = run(data, "train")
    assert proc.returncode == 1 and "0 corrected articles; at least 30" in proc.stderr.decode()
    with Archive(data) as archive:
        for record in made_up(50):
            body = record.text
            added = archive.add(Article(title=record.title, body=body, fingerprint=fingerprint(body)))
            for topic in record.topics:
                archive.correct(added.id, topic, "add", "editor")
            if not record.topics:
                archive.correct(added.id, "policy", "remove", "editor")  # a look that confirmed "none"
    proc = run(data, "train")
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    assert out.startswith("50 corrected articles, 5-fold cross-validation, macro F1: lexicon alone 0.")
    assert "the classifier is now used for new articles" in out and (data / "tag_model.json").is_file()

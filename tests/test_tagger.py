"""The tagger: longest-match terms, zones, evidence, thresholds, and agreement with labelled articles."""

import json
from importlib import resources
from pathlib import Path

import pytest

from archive.models import TOPICS
from archive.taxonomy import load_taxonomy, parse_taxonomy, shipped_taxonomy_text
from ingest.pipeline import read_and_extract
from ingest.sources import SourceRef
from ingest.tagger import Tagger, fold
from tests.conftest import SEEDS

SAMPLES = Path(str(resources.files("archive").joinpath("samples")))


@pytest.fixture(scope="module")
def tagger():
    return Tagger(load_taxonomy())


def scores_of(tagger, title, body):
    return {s.topic: s for s in tagger.score(title, body)}


def labelled(folder: Path):
    from archive.config import load_config

    config = load_config(folder)
    for name, label in json.loads((folder / "labels.json").read_text()).items():
        yield name, read_and_extract(SourceRef(name, folder / name), config), set(label["topics"])


@pytest.mark.parametrize("name, article, wanted", list(labelled(SEEDS)), ids=lambda v: str(v)[:12])
def test_seeds_get_exactly_their_labelled_topics(tagger, name, article, wanted):
    got = {s.topic for s in tagger.score(article.title, article.body) if s.assigned}
    assert got == wanted


def test_samples_agree_with_their_labels_at_least_as_well_as_two_people_do(tagger):
    counts = {t: [0, 0, 0] for t in TOPICS}  # true positives, false positives, false negatives
    for _, article, wanted in labelled(SAMPLES):
        got = {s.topic for s in tagger.score(article.title, article.body) if s.assigned}
        for topic in TOPICS:
            if topic in got and topic in wanted:
                counts[topic][0] += 1
            elif topic in got:
                counts[topic][1] += 1
            elif topic in wanted:
                counts[topic][2] += 1
    f1 = [2 * tp / (2 * tp + fp + fn) for tp, fp, fn in counts.values()]
    assert sum(f1) / len(f1) >= 0.85, counts


def test_every_topic_is_scored_in_taxonomy_order_within_bounds(tagger):
    scores = tagger.score("Title", "Some words about nothing in particular.")
    assert [s.topic for s in scores] == list(TOPICS)
    assert all(0 <= s.score <= 1 and not s.assigned for s in scores)


def test_longest_term_wins_across_topics(tagger):
    scores = scores_of(tagger, "", "Law enforcement agencies met. Law enforcement agencies agreed. Law enforcement.")
    assert [e.term for e in scores["law_enforcement"].evidence] == ["law enforcement"]
    assert scores["policy"].evidence == []  # "law" inside "law enforcement" does not count for policy


def test_prefix_terms_and_counts_in_evidence(tagger):
    body = "Prosecutors prosecuted the man. The prosecution said the case was prosecuted quickly."
    evidence = {e.term: e.count for e in scores_of(tagger, "", body)["law_enforcement"].evidence}
    assert evidence["prosecuted"] == 2 and evidence["prosecutors"] == 1 and evidence["prosecution"] == 1


def test_title_occurrences_count_more_than_body_ones(tagger):
    body = "An article about something else entirely, with many words of filler text in it. " * 3
    in_title = scores_of(tagger, "Police arrest suspect", body)["law_enforcement"].score
    in_body = scores_of(tagger, "Something", body + " Police arrest suspect.")["law_enforcement"].score
    assert in_title > in_body > 0


def test_a_single_distinct_term_is_weak_evidence(tagger):
    body = "The police. " * 10 + "Filler words here."
    assert not scores_of(tagger, "", body)["law_enforcement"].assigned


def test_evidence_sentence_is_the_one_with_most_topic_weight(tagger):
    body = "The weather was fine. Police arrested and charged a suspect after a raid. The police later left."
    assert scores_of(tagger, "", body)["law_enforcement"].sentence == (
        "Police arrested and charged a suspect after a raid."
    )


def test_accents_are_ignored_when_matching(tagger):
    evidence = scores_of(tagger, "", "La polícé said so. The police said so too.")["law_enforcement"].evidence
    assert {e.term for e in evidence} == {"police", "polícé"}


def test_a_user_taxonomy_changes_what_is_tagged(tmp_path):
    text = shipped_taxonomy_text().replace('"nspcc" = 3.0', '"nspcc" = 3.0\n"kite flying" = 20.0\n"kites" = 20.0')
    body = "We went kite flying and talked about kites."
    assert not scores_of(Tagger(load_taxonomy()), "", body)["prevention"].assigned
    assert scores_of(Tagger(parse_taxonomy(text, "custom")), "", body)["prevention"].assigned


def test_fold_keeps_offsets():
    text = "Europäische Straße ÉCOLE"
    assert len(fold(text)) == len(text)
    assert fold(text) == "europaische straße ecole"


def test_an_article_unrelated_to_child_protection_gets_no_topic(tagger):
    title = "Council tightens rules after fraud arrest"
    body = (
        "Police arrested a man on suspicion of fraud after a council audit. Officers said the investigation"
        " continues and the suspect was charged on Friday.\n\nThe council said new rules and a law change"
        " would follow, and ministers promised regulation of procurement."
    )
    tagging = tagger.tag(title, body)
    assert tagging.unrelated and tagging.relevance < load_taxonomy().relevance.threshold
    assert not any(s.assigned for s in tagging.scores)
    assert tagging.scores[TOPICS.index("law_enforcement")].score > 0  # the evidence is still kept


def test_child_protection_terms_make_an_article_related(tagger):
    body = "Police arrested a man for sharing child sexual abuse material. The NSPCC said grooming rose."
    tagging = tagger.tag("Arrest over abuse images", body)
    assert not tagging.unrelated and tagging.relevance > 0.5


def test_a_zero_weight_phrase_blocks_a_shorter_term():
    text = shipped_taxonomy_text()
    body = "The dog grooming salon opened. Dog grooming costs rose. The children visited. Dog grooming again."
    assert Tagger(parse_taxonomy(text, "shipped")).tag("Dog grooming", body).unrelated
    unblocked = text.replace('"dog grooming" = 0\n', "")
    assert not Tagger(parse_taxonomy(unblocked, "custom")).tag("Dog grooming", body).unrelated


def test_without_a_relevance_table_every_article_is_related():
    text = shipped_taxonomy_text().split("\n[relevance]")[0]
    tagging = Tagger(parse_taxonomy(text, "custom")).tag("Cake", "A recipe for a lemon cake.")
    assert not tagging.unrelated and tagging.relevance == 1.0


def test_a_passing_mention_in_one_sentence_weighs_less_than_the_same_terms_spread(tagger):
    lead = "Ministers published the online safety bill to protect children from abuse online. " * 2
    once = lead + "Police officers and prosecutors welcomed it."
    spread = lead + "Police officers welcomed it. Prosecutors welcomed it."
    assert scores_of(tagger, "", once)["law_enforcement"].score < scores_of(tagger, "", spread)["law_enforcement"].score

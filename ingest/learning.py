"""Learning from people's corrections (`archive train`): a linear text classifier per topic, blended
with the lexicon's scores, kept only when cross-validation shows the blend beats the lexicon alone.

The model is a TF-IDF vectoriser and one logistic regression per topic (scikit-learn), saved as plain
JSON numbers in the data directory (no pickle: loading a model never runs code). A blended score is
a weighted mean of the lexicon's score and the classifier's probability, against the same thresholds;
the weight is the one that did best in cross-validation.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from archive.errors import ArchiveError
from archive.models import Article
from archive.store import utc_now

from .evaluation import Labelled, Report, evaluate
from .tagger import Tagger, Tagging

MIN_ARTICLES = 30  # fewer corrected articles than this teach a classifier nothing reliable
MIN_EACH = 3  # ... and each topic needs this many articles with it and without it
FOLDS = 5
BLENDS = (0.25, 0.5, 0.75)  # weights of the classifier's probability in a blended score, tried in turn
MODEL_VERSION = 1


class ModelError(ArchiveError, ValueError):
    """A saved tag model cannot be read."""


def labelled_from_corrections(articles: Sequence[Article]) -> list[Labelled]:
    """Articles a person has corrected, labelled with their topics as they now stand (the person's
    decisions applied to the machine's): what people confirmed by looking and correcting."""
    return [Labelled(a.id or "", a.title, a.body, frozenset(a.topics)) for a in articles if a.corrections]


@dataclass(frozen=True)
class LinearModel:
    """A TF-IDF vocabulary and one logistic regression per topic."""

    vocabulary: dict[str, int]
    idf: list[float]
    coefficients: dict[str, list[float]]
    intercepts: dict[str, float]
    meta: dict
    blend: float = 0.5  # the classifier's weight in a blended score

    def probabilities(self, title: str, text: str) -> dict[str, float]:
        vectorizer, weights = self._prepared()
        decisions = vectorizer.transform([f"{title}\n{text}"]).dot(weights)[0]
        return {
            topic: 1 / (1 + math.exp(-max(-60.0, min(60.0, float(decisions[i]) + self.intercepts[topic]))))
            for i, topic in enumerate(self.coefficients)
        }

    def _prepared(self):
        """The vectoriser and a features x topics weight matrix, built once per model."""
        prepared = getattr(self, "_cache", None)
        if prepared is None:
            vectorizer = _new_vectorizer(vocabulary=self.vocabulary)
            vectorizer.idf_ = _array(self.idf)
            weights = _array(list(self.coefficients.values())).reshape(len(self.coefficients), -1).T
            prepared = (vectorizer, weights)
            object.__setattr__(self, "_cache", prepared)
        return prepared

    def save(self, path: Path) -> None:
        """Written beside `path`, then renamed over it: a reader never sees half a model."""
        partial = path.with_name(path.name + ".partial")
        partial.write_text(self.to_json(), encoding="utf-8")
        os.replace(partial, path)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": MODEL_VERSION,
                "vocabulary": self.vocabulary,
                "idf": self.idf,
                "coefficients": self.coefficients,
                "intercepts": self.intercepts,
                "blend": self.blend,
                "meta": self.meta,
            }
        )

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != MODEL_VERSION:
                raise ValueError(f"version {data.get('version')!r}, expected {MODEL_VERSION}")
            model = cls(
                vocabulary={str(k): int(v) for k, v in data["vocabulary"].items()},
                idf=[float(v) for v in data["idf"]],
                coefficients={t: [float(v) for v in c] for t, c in data["coefficients"].items()},
                intercepts={t: float(v) for t, v in data["intercepts"].items()},
                meta=dict(data.get("meta") or {}),
                blend=float(data["blend"]),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"{path} is not a tag model ({exc}); run `archive train` again or delete it.") from None
        if any(len(c) != len(model.idf) for c in model.coefficients.values()):
            raise ModelError(f"{path} is damaged (sizes disagree); run `archive train` again or delete it.")
        return model


def _array(values):
    import numpy

    return numpy.asarray(values, dtype=float)


def _new_vectorizer(vocabulary=None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(sublinear_tf=True, min_df=1 if vocabulary else 2, strip_accents="unicode",
                           ngram_range=(1, 2), max_features=50_000, vocabulary=vocabulary)  # fmt: skip


def fit(records: Sequence[Labelled], topics: Sequence[str]) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    vectorizer = _new_vectorizer()
    matrix = vectorizer.fit_transform([f"{r.title}\n{r.text}" for r in records])
    coefficients, intercepts = {}, {}
    for topic in topics:
        labels = [topic in r.topics for r in records]
        if all(labels) or not any(labels):  # nothing to tell apart: a constant leaning
            coefficients[topic] = [0.0] * matrix.shape[1]
            intercepts[topic] = 4.0 if all(labels) else -4.0
            continue
        model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=1000).fit(matrix, labels)
        coefficients[topic] = [float(v) for v in model.coef_[0]]
        intercepts[topic] = float(model.intercept_[0])
    vocabulary = {str(term): int(i) for term, i in vectorizer.vocabulary_.items()}
    return LinearModel(vocabulary, [float(v) for v in vectorizer.idf_], coefficients, intercepts, {})


class BlendedTagger:
    """The lexicon tagger with a learnt classifier: scores are blended, evidence stays the lexicon's."""

    def __init__(self, tagger: Tagger, model: LinearModel) -> None:
        self.lexicon = tagger
        self.taxonomy = tagger.taxonomy
        self.model = model

    def score(self, title: str, body: str):
        return self.tag(title, body).scores

    def tag(self, title: str, body: str) -> Tagging:
        tagging = self.lexicon.tag(title, body)
        probabilities = self.model.probabilities(title, body)
        scores = []
        for s in tagging.scores:
            if s.topic not in probabilities:
                scores.append(s)
                continue
            blend = self.model.blend
            value = round((1 - blend) * s.score + blend * probabilities[s.topic], 4)
            threshold = self.taxonomy.get(s.topic).threshold
            scores.append(replace(s, score=value, assigned=value >= threshold and not tagging.unrelated))
        return Tagging(scores=scores, relevance=tagging.relevance, unrelated=tagging.unrelated)


def assigned_topics(tagger) -> Callable[[str, str], list[str]]:
    return lambda title, text: [s.topic for s in tagger.score(title, text) if s.assigned]


@dataclass(frozen=True)
class Training:
    articles: int
    lexicon_f1: float  # macro F1 of the lexicon alone, over the held-out folds
    blended_f1: float  # ... of the lexicon blended with a classifier trained on the other folds
    model: LinearModel | None  # trained on every article, when the blend won

    @property
    def adopted(self) -> bool:
        return self.model is not None


def train(tagger: Tagger, records: Sequence[Labelled], seed: int = 0) -> Training:
    """Cross-validate the blend against the lexicon on `records`; fit on all of them when it wins.
    Raises ModelError when there are too few corrected articles to learn from."""
    topics = tagger.taxonomy.names
    if len(records) < MIN_ARTICLES:
        raise ModelError(
            f"{len(records)} corrected articles; at least {MIN_ARTICLES} are needed to learn from. "
            "The lexicon stands alone."
        )
    for topic in topics:
        with_topic = sum(topic in r.topics for r in records)
        if min(with_topic, len(records) - with_topic) < MIN_EACH:
            raise ModelError(
                f"{topic}: {with_topic} of {len(records)} corrected articles have it; at least {MIN_EACH} with"
                f" and {MIN_EACH} without are needed. The lexicon stands alone."
            )
    shuffled = list(records)
    random.Random(seed).shuffle(shuffled)
    folds = [shuffled[i::FOLDS] for i in range(FOLDS)]
    lexicon, blended = [], {blend: [] for blend in BLENDS}
    for i, held_out in enumerate(folds):
        rest = [r for j, fold in enumerate(folds) if j != i for r in fold]
        model = fit(rest, topics)
        lexicon.append(evaluate(assigned_topics(tagger), held_out))
        for blend in BLENDS:
            candidate = BlendedTagger(tagger, replace(model, blend=blend))
            blended[blend].append(evaluate(assigned_topics(candidate), held_out))
    lexicon_f1 = _pooled_macro_f1(lexicon)
    blend = max(BLENDS, key=lambda b: (_pooled_macro_f1(blended[b]), -b))
    blended_f1 = _pooled_macro_f1(blended[blend])
    model = None
    if blended_f1 > lexicon_f1:
        meta = {"trained_at": utc_now(), "articles": len(records), "lexicon_f1": lexicon_f1, "blended_f1": blended_f1}
        model = replace(fit(records, topics), meta=meta, blend=blend)
    return Training(len(records), lexicon_f1, blended_f1, model)


def _pooled_macro_f1(reports) -> float:
    """Macro F1 over the folds' counts added together (steadier than a mean of per-fold figures)."""
    pooled = Report()
    for report in reports:
        for topic, counts in report.counts.items():
            pooled.counts[topic] += counts
    return pooled.macro_f1


def load_tagger(taxonomy, model_path: Path) -> Tagger | BlendedTagger:
    """The tagger of an archive: the lexicon, blended with the trained model when one is saved."""
    tagger = Tagger(taxonomy)
    if not model_path.is_file():
        return tagger
    return BlendedTagger(tagger, LinearModel.load(model_path))

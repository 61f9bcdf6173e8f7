"""Agreement of a tagger with labelled articles: per-topic precision, recall and F1, macro and micro F1,
the share of off-topic articles that got a topic, and the records it got wrong (`archive eval-tags`).

A labelled file is JSON Lines, one record a line: `text`, optional `title` and `id`, and `topics`, the
topic names a careful reader assigns ([] for an article unrelated to child protection).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from archive.errors import ArchiveError
from archive.models import TOPICS


class LabelledFileError(ArchiveError, ValueError):
    """A labelled file cannot be read as labelled records."""


@dataclass(frozen=True)
class Labelled:
    key: str  # the record's id, else its line number
    title: str
    text: str
    topics: frozenset[str]


def read_labelled(path: Path) -> list[Labelled]:
    """The records of a JSON Lines file; a line that is not a labelled record stops the reading with
    a message naming it, since an evaluation over part of a file would mislead."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelledFileError(f"{path} cannot be read: {exc}") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelledFileError(f"{path}, line {number}: not JSON ({exc.msg}).") from None
        records.append(_labelled(record, f"{path}, line {number}", str(number)))
    if not records:
        raise LabelledFileError(f"{path} holds no labelled record.")
    return records


def _labelled(record: object, where: str, number: str) -> Labelled:
    if not isinstance(record, dict):
        raise LabelledFileError(f"{where}: a record must be a JSON object.")
    text, topics = record.get("text"), record.get("topics")
    if not isinstance(text, str) or not text.strip():
        raise LabelledFileError(f"{where}: the record has no `text`.")
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise LabelledFileError(f"{where}: `topics` must be a list of topic names ([] for off-topic).")
    unknown = sorted(set(topics) - set(TOPICS))
    if unknown:
        raise LabelledFileError(f"{where}: unknown topics {unknown}; the topics are {list(TOPICS)}.")
    title = record.get("title")
    return Labelled(
        key=str(record.get("id") or number),
        title=title if isinstance(title, str) else "",
        text=text,
        topics=frozenset(topics),
    )


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """1.0 when there was nothing to find and nothing was found."""
        errors = self.fp + self.fn
        return 2 * self.tp / (2 * self.tp + errors) if self.tp + errors else 1.0


@dataclass(frozen=True)
class Mistake:
    key: str
    title: str
    wanted: frozenset[str]
    got: frozenset[str]


@dataclass
class Report:
    counts: dict[str, Counts] = field(default_factory=lambda: {t: Counts() for t in TOPICS})
    records: int = 0
    off_topic: int = 0  # records labelled with no topic
    off_topic_tagged: int = 0  # ... that got a topic
    mistakes: list[Mistake] = field(default_factory=list)
    words: int = 0  # words of title and text tagged
    seconds: float = 0.0  # time spent tagging them

    @property
    def ms_per_1000_words(self) -> float:
        return 1000 * self.seconds / self.words * 1000 if self.words else 0.0

    @property
    def macro_f1(self) -> float:
        return sum(c.f1 for c in self.counts.values()) / len(self.counts)

    @property
    def micro_f1(self) -> float:
        return sum(self.counts.values(), Counts()).f1

    @property
    def exact(self) -> int:
        """Records whose topics were all right."""
        return self.records - len(self.mistakes)

    def add(self, record: Labelled, got: frozenset[str]) -> None:
        self.records += 1
        for topic, counts in self.counts.items():
            if topic in got and topic in record.topics:
                counts.tp += 1
            elif topic in got:
                counts.fp += 1
            elif topic in record.topics:
                counts.fn += 1
        if not record.topics:
            self.off_topic += 1
            self.off_topic_tagged += bool(got)
        if got != record.topics:
            self.mistakes.append(Mistake(record.key, record.title, record.topics, got))


Predict = Callable[[str, str], Iterable[str]]  # (title, text) -> assigned topics


def evaluate(predict: Predict, records: Iterable[Labelled]) -> Report:
    report = Report()
    for record in records:
        started = time.perf_counter()
        got = frozenset(predict(record.title, record.text))
        report.seconds += time.perf_counter() - started
        report.words += len(record.title.split()) + len(record.text.split())
        report.add(record, got)
    return report


def format_report(report: Report, mistakes: bool = True) -> str:
    """The report as a plain-text table, then the records it got wrong."""
    lines = [f"{'topic':<22}{'precision':>10}{'recall':>8}{'F1':>7}{'tp':>5}{'fp':>5}{'fn':>5}"]
    for topic, c in report.counts.items():
        lines.append(f"{topic:<22}{c.precision:>10.3f}{c.recall:>8.3f}{c.f1:>7.3f}{c.tp:>5}{c.fp:>5}{c.fn:>5}")
    lines.append(f"macro F1 {report.macro_f1:.3f} · micro F1 {report.micro_f1:.3f}")
    lines.append(f"{report.exact} of {report.records} records exactly right")
    lines.append(f"tagging took {report.ms_per_1000_words:.1f} ms per 1,000 words ({report.words} words)")
    if report.off_topic:
        share = report.off_topic_tagged / report.off_topic
        lines.append(f"off-topic records given a topic: {report.off_topic_tagged} of {report.off_topic} ({share:.1%})")
    if mistakes and report.mistakes:
        lines.append("")
        lines.append("records it got wrong (wanted -> got):")
        for m in report.mistakes:
            wanted = ", ".join(sorted(m.wanted)) or "off-topic"
            got = ", ".join(sorted(m.got)) or "off-topic"
            lines.append(f"  {m.key}: {m.title[:60]!r}: {wanted} -> {got}")
    return "\n".join(lines)


def report_to_dict(report: Report) -> dict:
    return {
        "records": report.records,
        "topics": {
            t: {"precision": c.precision, "recall": c.recall, "f1": c.f1, "tp": c.tp, "fp": c.fp, "fn": c.fn}
            for t, c in report.counts.items()
        },
        "macro_f1": report.macro_f1,
        "micro_f1": report.micro_f1,
        "ms_per_1000_words": report.ms_per_1000_words,
        "off_topic": report.off_topic,
        "off_topic_tagged": report.off_topic_tagged,
        "mistakes": [
            {"id": m.key, "title": m.title, "wanted": sorted(m.wanted), "got": sorted(m.got)} for m in report.mistakes
        ],
    }

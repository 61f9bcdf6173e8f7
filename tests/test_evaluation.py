"""Agreement figures of `archive eval-tags`: reading labelled files, counting, and reporting."""

import json

import pytest

from ingest.evaluation import Counts, Labelled, LabelledFileError, evaluate, format_report, read_labelled


def write(tmp_path, *lines: str):
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def record(text: str, topics: list[str], **extra) -> str:
    return json.dumps({"text": text, "topics": topics, **extra})


def test_reads_records_with_ids_titles_and_blank_lines(tmp_path):
    path = write(tmp_path, record("Body one.", ["policy"], id="x1", title="T"), "", record("Body two.", []))
    records = read_labelled(path)
    assert records == [
        Labelled("x1", "T", "Body one.", frozenset({"policy"})),
        Labelled("3", "", "Body two.", frozenset()),
    ]


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "line 1: not JSON"),
        ("[1, 2]", "must be a JSON object"),
        (record("", ["policy"]), "has no `text`"),
        (json.dumps({"text": "Body."}), "`topics` must be a list"),
        (record("Body.", ["weather"]), "unknown topics \\['weather'\\]"),
    ],
)
def test_a_bad_line_is_refused_with_its_number(tmp_path, line, message):
    with pytest.raises(LabelledFileError, match=message):
        read_labelled(write(tmp_path, line))


def test_an_empty_or_missing_file_is_refused(tmp_path):
    with pytest.raises(LabelledFileError, match="no labelled record"):
        read_labelled(write(tmp_path, ""))
    with pytest.raises(LabelledFileError, match="cannot be read"):
        read_labelled(tmp_path / "missing.jsonl")


def test_counts_give_precision_recall_and_f1():
    counts = Counts(tp=3, fp=1, fn=2)
    assert counts.precision == 0.75 and counts.recall == 0.6
    assert counts.f1 == pytest.approx(2 * 0.75 * 0.6 / (0.75 + 0.6))
    assert Counts().f1 == 1.0  # nothing to find, nothing found


def test_evaluate_counts_per_topic_off_topic_and_mistakes():
    records = [
        Labelled("a", "", "police and law", frozenset({"policy", "law_enforcement"})),
        Labelled("b", "", "police only", frozenset({"law_enforcement"})),
        Labelled("c", "", "cake recipe", frozenset()),
        Labelled("d", "", "cake and law", frozenset()),
    ]
    words = {"police": "law_enforcement", "law": "policy"}
    report = evaluate(lambda title, text: {words[w] for w in text.split() if w in words}, records)
    assert (report.counts["law_enforcement"].tp, report.counts["law_enforcement"].fp) == (2, 0)
    assert (report.counts["policy"].tp, report.counts["policy"].fp, report.counts["policy"].fn) == (1, 1, 0)
    assert report.off_topic == 2 and report.off_topic_tagged == 1
    assert [m.key for m in report.mistakes] == ["d"] and report.exact == 3
    # policy F1 2/3, law_enforcement 1, the two topics never seen 1 each
    assert report.macro_f1 == pytest.approx((2 / 3 + 1 + 1 + 1) / 4)
    assert report.micro_f1 == pytest.approx(2 * 3 / (2 * 3 + 1))
    text = format_report(report)
    assert "off-topic records given a topic: 1 of 2 (50.0%)" in text
    assert "d: '': off-topic -> policy" in text

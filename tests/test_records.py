"""ingest.records: JSON and JSON Lines from other tools, one article per record; bad records fail alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.errors import ExtractionError
from archive.service import Archive
from ingest.pipeline import ingest_sources
from ingest.records import parse_records, record_article

TEXT = (
    "Ofcom published its first codes of practice under the Online Safety Act on Monday, setting out what "
    "platforms must do to protect children from grooming and abuse.\n\nThe regulator said firms had three months "
    "to assess the risks on their services, and that it would take enforcement action against those that failed."
)
PARAGRAPHS_HTML = "".join(f"<p>{p}</p>" for p in TEXT.split("\n\n"))
HTML = f"""<!DOCTYPE html><html lang="en"><head><title>From the page | Example</title>
<meta property="article:published_time" content="2020-01-01"></head>
<body><article><h1>From the page</h1>{PARAGRAPHS_HTML}</article></body></html>"""


def test_a_text_record_gives_its_fields() -> None:
    record = {
        "title": "Ofcom codes published",
        "url": "https://news.example.org/ofcom?utm_source=rss",
        "date": "2024-12-16T08:00:00Z",
        "author": "By Jane Doe and John Roe",
        "source": "Example News",
        "text": TEXT,
    }
    article = record_article(record, "x.jsonl:1")
    assert article.title == "Ofcom codes published"
    assert article.url == article.canonical_url == "https://news.example.org/ofcom"
    assert (article.published, article.author, article.source) == ("2024-12-16", "Jane Doe, John Roe", "Example News")
    assert article.body == TEXT


def test_an_html_record_is_extracted_and_its_own_fields_win() -> None:
    article = record_article({"html": HTML, "title": "Given title", "published": "2024-02-03"}, "x.json#1")
    assert article.title == "Given title"
    assert article.published == "2024-02-03"
    assert article.body == TEXT


def test_other_tools_field_names_are_understood() -> None:
    record = {"headline": "H", "link": "https://e.org/a", "pubDate": "2023-05-06", "body": TEXT,
              "authors": [{"name": "Ann Lee"}, "Bo Kim"], "publisher": {"name": "Outlet"}}  # fmt: skip
    article = record_article(record, "r")
    assert (article.title, article.url, article.published, article.author, article.source) == (
        "H", "https://e.org/a", "2023-05-06", "Ann Lee, Bo Kim", "Outlet"
    )  # fmt: skip


def test_a_record_without_a_title_derives_one() -> None:
    assert record_article({"text": TEXT}, "r").title.startswith("Ofcom published its first codes of practice")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"title": "No text"}, "has neither text nor html"),
        ({"text": "Too short."}, "too little text"),
        ({"html": "<html><body><nav>menu</nav></body></html>"}, "no article text"),
    ],
)
def test_records_without_an_article_fail_with_a_sentence(record: dict, message: str) -> None:
    with pytest.raises(ExtractionError, match=message):
        record_article(record, "r")


def test_json_lines_with_a_broken_line() -> None:
    text = json.dumps({"text": TEXT}) + "\n{not json\n\n" + json.dumps(["a list"]) + "\n"
    parsed = list(parse_records(text, "f.jsonl"))
    assert [origin for origin, _ in parsed] == ["f.jsonl:1", "f.jsonl:2", "f.jsonl:4"]
    assert isinstance(parsed[0][1], dict)
    assert "f.jsonl:2 is not valid JSON" in str(parsed[1][1])
    assert "not a JSON object" in str(parsed[2][1])


@pytest.mark.parametrize(
    "text",
    [
        json.dumps([{"text": TEXT}, {"text": TEXT + " Two."}]),
        json.dumps({"articles": [{"text": TEXT}, {"text": TEXT + " Two."}]}),
    ],
)
def test_a_json_array_or_wrapped_array(text: str) -> None:
    parsed = list(parse_records(text, "f.json"))
    assert [origin for origin, _ in parsed] == ["f.json#1", "f.json#2"]


def test_a_single_json_object_is_one_record() -> None:
    assert [o for o, _ in parse_records(json.dumps({"text": TEXT}), "f.json")] == ["f.json#1"]


@pytest.mark.parametrize("text", ["[1, 2", "42", '"just a string"'])
def test_json_that_holds_no_records_is_refused(text: str) -> None:
    with pytest.raises(ExtractionError):
        list(parse_records(text, "f.json"))


def test_ingesting_a_jsonl_file_gives_one_outcome_per_line(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    lines = [json.dumps({"title": f"Story {n}", "text": f"{TEXT} Number {n}."}) for n in range(3)]
    path.write_text("\n".join([*lines, "oops"]) + "\n", encoding="utf-8")
    outcomes = list(ingest_sources(archive, [str(path)]))
    assert [o.status for o in outcomes] == ["added", "added", "added", "failed"]
    assert outcomes[3].source == f"{path}:4"
    assert archive.count() == 3
    assert [o.status for o in ingest_sources(archive, [str(path)])][:3] == ["duplicate"] * 3

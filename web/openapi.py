"""The OpenAPI 3.1 description of the JSON API, the exports, the feed and the health check, built once."""

from __future__ import annotations

import json
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from archive.config import SETTINGS
from archive.models import OFF_TOPIC, TOPICS
from archive.subscriptions import MAX_EVERY_SECONDS, MIN_EVERY_SECONDS

from .search_state import MAX_QUERY_LENGTH, SORTS

OPENAPI_VERSION = "3.1.0"
EXAMPLE_ID = "3f9c2a71d04be815"
SEARCH_FILTERS = ("q", "topic", "source", "lang", "from", "to")  # what narrows a search
EXPORT_PARAMETERS = (*SEARCH_FILTERS, "sort")  # exports stream every match: no paging
SEARCH_PARAMETERS = (*EXPORT_PARAMETERS, "page", "per_page")
FACETS = ("topic", "source", "year", "language")

_DATE_PATTERN = "^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"
_EXPORT_NOTE = (
    "Every match is streamed, with no cap, in the order sort asks for. The snippet is plain text (the marks "
    "of the JSON API removed, entities decoded)."
)


INGEST_EXAMPLE = {
    "title": "Police close online grooming network",
    "text": "Police arrested four men after an inquiry into online grooming on gaming platforms...",
}


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _nullable(kind: str, description: str, **extra) -> dict:
    return {"type": [kind, "null"], "description": description, **extra}


def _record(properties: dict, description: str = "", optional: tuple[str, ...] = ()) -> dict:
    """An object schema whose properties are all required but the `optional` ones."""
    schema = {"type": "object", "required": [k for k in properties if k not in optional], "properties": properties}
    return {"description": description, **schema} if description else schema


def _counts(description: str) -> dict:
    return {"type": "object", "description": description, "additionalProperties": {"type": "integer", "minimum": 0}}


def _setting(name: str):
    return next(s.default for s in SETTINGS if s.name == name)


def _package_version() -> str:
    try:
        return version("topic-archive")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0.0.0"


def _query(name: str, description: str, schema: dict, example=None, **extra) -> dict:
    parameter = {"name": name, "in": "query", "description": description, "schema": schema, **extra}
    return parameter if example is None else {**parameter, "example": example}


def _parameters() -> dict:
    """The query parameters shared by search, exports and feed, and the article id in paths."""
    date = {"type": "string", "pattern": _DATE_PATTERN}
    return {
        "q": _query(
            "q", "The query, in the language the search help page (/help) explains. Empty: every article.",
            {"type": "string", "maxLength": MAX_QUERY_LENGTH}, '"online safety" AND topic:policy',
        ),
        "topic": _query(
            "topic", "A topic the articles must carry. Repeat it to require several: all must apply. "
            f"{OFF_TOPIC} finds the articles judged unrelated to child protection.",
            {"type": "array", "items": {"type": "string", "enum": [*TOPICS, OFF_TOPIC]}}, ["law_enforcement"],
            style="form", explode=True,
        ),
        "source": _query(
            "source", "The publication's name, exactly as results show it.", {"type": "string"}, "The Harbour Courier"
        ),
        "lang": _query("lang", "The articles' language, a two-letter ISO 639-1 code.", {"type": "string"}, "en"),
        "from": _query("from", "The earliest date: the start of YYYY, YYYY-MM or YYYY-MM-DD.", date, "2019"),
        "to": _query("to", "The latest date: the end of YYYY, YYYY-MM or YYYY-MM-DD.", date, "2021-06"),
        "sort": _query(
            "sort", "The order of the matches. Without a query, relevance means newest first.",
            {"type": "string", "enum": list(SORTS), "default": SORTS[0]},
        ),
        "page": _query("page", "The page of results, from 1.", {"type": "integer", "minimum": 1, "default": 1}),
        "per_page": _query(
            "per_page", f"Results per page, at most {_setting('max_per_page')} unless the archive is configured "
            "otherwise (larger values are cut).", {"type": "integer", "minimum": 1, "default": _setting("per_page")},
        ),
        "article_id": {
            "name": "id", "in": "path", "required": True, "description": "The article's id, as search hits give it.",
            "schema": {"type": "string"}, "example": EXAMPLE_ID,
        },
    }  # fmt: skip


def _schemas() -> dict:
    off_topic = {
        "type": "boolean",
        "description": "Judged unrelated to child protection (no topic), and no person has given it one.",
    }
    listed = {  # an article's fields as lists of matches and exports show them
        "id": {"type": "string"},
        "title": {"type": "string"},
        "url": _nullable("string", "The original address; null when not recorded."),
        "source": _nullable("string", "The publication; null when unknown."),
        "date": _nullable("string", "The publication date, YYYY-MM-DD; null when unknown.", format="date"),
        "topics": {"type": "array", "items": {"type": "string"}, "description": "Assigned topics, best first."},
        "off_topic": off_topic,
    }
    score = {
        "type": "number",
        "description": "Relevance to the query, or likeness to the article; 0 when sorted by date.",
    }
    snippet = {"type": "string", "description": "HTML: all text escaped, <mark> around matched words the only markup."}
    by_topic = "Keyed by topic name."
    text_or_null = {"type": ["string", "null"]}
    return {
        "Error": _record({"error": {"type": "string"}}, "What went wrong, in one sentence fit to show a reader."),
        "IngestRequest": {
            "type": "object",
            "description": 'One input: "url" (fetched), or "html" (with an optional "url" it came from), '
            'or "title" and "text".',
            "properties": {
                "url": {"type": "string", "format": "uri"},
                "html": {"type": "string"},
                "title": {"type": "string"},
                "text": {"type": "string"},
            },
        },
        "IngestOutcome": _record(
            {
                "source": {"type": "string"},
                "status": {"type": "string", "enum": ["added", "updated", "duplicate", "failed"]},
                "id": text_or_null,
                "title": text_or_null,
                "topics": {"type": "array", "items": {"type": "string"}},
                "duplicate_of": text_or_null,
                "error": text_or_null,
                "warning": text_or_null,
                "off_topic": off_topic,
            },
            "What happened to one article of the input.",
        ),
        "IngestResult": _record(
            {"outcomes": {"type": "array", "items": _ref("schemas", "IngestOutcome")}},
            "One outcome per article the input held (a feed holds many).",
        ),
        "ArticleSummary": _record({**listed, "score": score}, "An article as a list of matches shows it."),
        "Hit": {
            "description": "A search match: an article summary with a highlighted snippet.",
            "allOf": [_ref("schemas", "ArticleSummary"), _record({"snippet": snippet})],
        },
        "FacetCounts": _counts("Matches per value, over every match (not only this page)."),
        "TimelineBucket": _record({
            "period": {"type": "string", "pattern": "^[0-9]{4}(-[0-9]{2})?$", "description": "2021-03 or 2021."},
            "total": {"type": "integer", "minimum": 0},
            "topics": _counts('Matches per primary topic ("none" for articles without one); they add up to total.'),
        }),
        "Timeline": _record(
            {
                "unit": {"type": "string", "enum": ["month", "year"]},
                "buckets": {"type": "array", "items": _ref("schemas", "TimelineBucket")},
                "undated": {"type": "integer", "minimum": 0, "description": "Matches without a date."},
            },
            "Matches over time: one bucket per month or year from the first dated match to the last.",
            optional=("undated",),
        ),
        "SearchResult": _record({
            "query": {"type": "string"},
            "total": {"type": "integer", "minimum": 0, "description": "Every match, not only this page."},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "took_ms": {"type": "number"},
            "hits": {"type": "array", "items": _ref("schemas", "Hit")},
            "facets": _record({name: _ref("schemas", "FacetCounts") for name in FACETS}),
            "timeline": _ref("schemas", "Timeline"),
            "suggestion": _nullable("string", "A corrected query when some words look misspelt."),
        }),
        "Evidence": _record({"term": {"type": "string"}, "count": {"type": "integer", "minimum": 1}}),
        "Correction": _record(
            {
                "topic": {"type": "string"},
                "action": {"type": "string", "enum": ["add", "remove"]},
                "user": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
            },
            "A person's decision on a topic; it wins over the machine's.",
        ),
        "Article": _record({
            "id": {"type": "string"},
            "title": {"type": "string"},
            "url": _nullable("string", "The address it was read from."),
            "canonical_url": _nullable("string", "The address the page itself names as its own."),
            "source": listed["source"],
            "author": _nullable("string", "The byline."),
            "date": listed["date"],
            "language": _nullable("string", "ISO 639-1 code, as detected at ingest."),
            "ingested_at": {"type": "string", "format": "date-time"},
            "summary_only": {"type": "boolean", "description": "Only a feed's summary stands in for the text."},
            "text": {"type": "string"},
            "topics": {"type": "array", "items": {"type": "string"}, "description": "Best first, corrections applied."},
            "off_topic": off_topic,
            "scores": {
                "type": "object", "description": f"The machine's score, 0 to 1. {by_topic}",
                "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
            },
            "evidence": {
                "type": "object", "description": f"The taxonomy terms found and how often. {by_topic}",
                "additionalProperties": {"type": "array", "items": _ref("schemas", "Evidence")},
            },
            "sentences": {
                "type": "object", "description": f"The sentence that shows a topic best. {by_topic}",
                "additionalProperties": {"type": "string"},
            },
            "corrections": {"type": "array", "items": _ref("schemas", "Correction")},
        }),
        "Similar": _record({
            "id": {"type": "string", "description": "The article the others are like."},
            "more_like_this": {
                "type": "array", "items": _ref("schemas", "ArticleSummary"), "description": "More on the same subject.",
            },
            "same_story": {
                "type": "array", "items": _ref("schemas", "ArticleSummary"),
                "description": "Other coverage of the same event.",
            },
        }),
        "ExportRecord": _record(
            {
                **{k: v for k, v in listed.items() if k not in ("topics", "off_topic")},
                "author": _nullable("string", "The byline."),
                "topics": listed["topics"],
                "snippet": {"type": "string", "description": "Plain text around the matched words."},
            },
            "One line of /export.jsonl: the columns of /export.csv as keys, in the same order.",
        ),
        "Source": _record(
            {
                "id": {"type": "integer", "minimum": 1},
                "name": {"type": "string", "description": "Its articles carry this name as their source."},
                "url": {"type": "string", "format": "uri", "description": "The feed itself."},
                "page_url": _nullable("string", "The page the feed was found through, if any.", format="uri"),
                "every_seconds": {"type": "integer", "minimum": MIN_EVERY_SECONDS, "maximum": MAX_EVERY_SECONDS},
                "on_topic_only": {"type": "boolean", "description": "Only entries about child protection are kept."},
                "added_at": {"type": "string", "format": "date-time"},
                "status": {
                    "type": "string", "enum": ["new", "ok", "failed", "paused"],
                    "description": "new: never polled; failed: retried later; paused: after repeated failures.",
                },
                "last_poll_at": _nullable("string", "The last poll, whatever its outcome.", format="date-time"),
                "last_success_at": _nullable("string", "The last poll that reached the feed.", format="date-time"),
                "last_error": _nullable("string", "Why the last poll failed, or which entries failed."),
                "failures": {"type": "integer", "minimum": 0, "description": "Failed polls in a row."},
                "next_poll_at": _nullable("string", "When it is next due.", format="date-time"),
                "polls": {"type": "integer", "minimum": 0},
                "added": {"type": "integer", "minimum": 0, "description": "Articles it added, over all polls."},
                "skipped": {"type": "integer", "minimum": 0, "description": "Entries left out as off-topic."},
                "last_added": {"type": "integer", "minimum": 0, "description": "Articles the last poll added."},
                "articles": {"type": "integer", "minimum": 0, "description": "Articles in the archive under its name."},
                "every": {"type": "string", "pattern": "^[0-9]+[smhd]$", "description": "The interval as 30m, 2h, 1d."},
            },
            "A feed the archive follows, and how its polls went.",
        ),
        "SourceList": _record({"sources": {"type": "array", "items": _ref("schemas", "Source")}}),
        "Health": _record({
            "status": {"type": "string", "const": "ok"},
            "articles": {"type": "integer", "minimum": 0, "description": "Articles in the store."},
        }),
    }  # fmt: skip


def _examples() -> dict:
    """One sample of each response body; the API page shows them, a test checks them against the schemas."""
    summary = {
        "id": EXAMPLE_ID,
        "title": "Man jailed for grooming boys through online game after platform flagged chats",
        "url": "https://harbourcourier.example/news/game-grooming-jailed",
        "source": "The Harbour Courier",
        "date": "2026-02-17",
        "topics": ["law_enforcement", "platform_moderation"],
        "off_topic": False,
        "score": 7.4122,
    }
    snippet = (
        "Police said the man used the game&#x27;s chat to begin <mark>grooming</mark> boys aged 11 to 14 "
        "&amp; moved them to private messaging … The platform flagged the <mark>grooming</mark> to investigators"
    )
    plain_snippet = (
        "Police said the man used the game's chat to begin grooming boys aged 11 to 14 & moved them to private "
        "messaging … The platform flagged the grooming to investigators"
    )
    record = {
        **{k: summary[k] for k in ("id", "title", "url", "source", "date")},
        "author": "Thomas Everleigh",
        "topics": summary["topics"],
        "snippet": plain_snippet,
    }
    return {
        "search": {
            "query": "grooming",
            "total": 9,
            "page": 1,
            "per_page": 10,
            "took_ms": 8.31,
            "hits": [{**summary, "snippet": snippet}],
            "facets": {
                "topic": {"law_enforcement": 7, "platform_moderation": 5, "prevention": 4, "policy": 2},
                "source": {"The Harbour Courier": 3, "Lakeshore Tribune": 2, "Meridian Asia Report": 2},
                "year": {"2026": 1, "2025": 1, "2023": 2, "2022": 2, "2018": 1, "2012": 1},
                "language": {"en": 9},
            },
            "timeline": {
                "unit": "year",
                "buckets": [
                    {"period": "2025", "total": 1, "topics": {"prevention": 1}},
                    {"period": "2026", "total": 1, "topics": {"law_enforcement": 1}},
                ],
                "undated": 1,
            },
            "suggestion": None,
        },
        "article": {
            "id": EXAMPLE_ID,
            "title": summary["title"],
            "url": summary["url"],
            "canonical_url": summary["url"],
            "source": summary["source"],
            "author": "Thomas Everleigh",
            "date": summary["date"],
            "language": "en",
            "ingested_at": "2026-02-18T07:12:44+00:00",
            "summary_only": False,
            "text": "A man who groomed boys through the chat of an online game was jailed for nine years on Tuesday…",
            "topics": summary["topics"],
            "off_topic": False,
            "scores": {"law_enforcement": 0.9612, "platform_moderation": 0.6841, "prevention": 0.2215, "policy": 0.0},
            "evidence": {
                "law_enforcement": [{"term": "jailed", "count": 2}, {"term": "police", "count": 3}],
                "platform_moderation": [{"term": "flagged", "count": 2}],
                "prevention": [{"term": "parents", "count": 1}],
                "policy": [],
            },
            "sentences": {"law_enforcement": "Police said the platform's report led them to the man within a week."},
            "corrections": [
                {"topic": "prevention", "action": "remove", "user": "editor", "created_at": "2026-02-19T10:03:00+00:00"}
            ],
        },
        "similar": {
            "id": EXAMPLE_ID,
            "more_like_this": [
                {
                    "id": "a07d51e9c3b2f648",
                    "title": "Fourteen arrested as police close in on online grooming network",
                    "url": None,
                    "source": "The Harbour Courier",
                    "date": "2012-10-09",
                    "topics": ["law_enforcement"],
                    "off_topic": False,
                    "score": 0.4318,
                }
            ],
            "same_story": [],
        },
        "csv": "id,title,url,source,date,author,topics,snippet\r\n"
        f"{EXAMPLE_ID},{summary['title']},{summary['url']},The Harbour Courier,2026-02-17,Thomas Everleigh,"
        f"law_enforcement; platform_moderation,{plain_snippet}\r\n",
        "jsonl": json.dumps(record, ensure_ascii=False) + "\n",
        "atom": (
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
            "  <title>topic-archive: grooming</title>\n  <updated>2026-02-18T07:12:44Z</updated>\n"
            f"  <entry>\n    <title>{summary['title']}</title>\n"
            f'    <link href="http://localhost:5000/articles/{EXAMPLE_ID}"/>\n'
            "    <updated>2026-02-17T00:00:00Z</updated>\n  </entry>\n</feed>\n"
        ),
        "health": {"status": "ok", "articles": 30},
        "sources": {
            "sources": [
                {
                    "id": 1,
                    "name": "The Harbour Courier",
                    "url": "https://harbourcourier.example/feed.atom",
                    "page_url": "https://harbourcourier.example/news",
                    "every_seconds": 1800,
                    "on_topic_only": True,
                    "added_at": "2026-02-01T09:00:00+00:00",
                    "status": "ok",
                    "last_poll_at": "2026-02-18T07:00:00+00:00",
                    "last_success_at": "2026-02-18T07:00:00+00:00",
                    "last_error": None,
                    "failures": 0,
                    "next_poll_at": "2026-02-18T07:30:00+00:00",
                    "polls": 812,
                    "added": 143,
                    "skipped": 61,
                    "last_added": 2,
                    "articles": 143,
                    "every": "30m",
                }
            ]
        },
        "outcome": {
            "source": "api text",
            "status": "added",
            "id": EXAMPLE_ID,
            "title": INGEST_EXAMPLE["title"],
            "topics": ["law_enforcement"],
            "duplicate_of": None,
            "error": None,
            "warning": None,
            "off_topic": False,
        },  # fmt: skip
    }


def _json(schema: str, example) -> dict:
    return {"application/json": {"schema": _ref("schemas", schema), "example": example}}


def _download(extension: str) -> dict:
    name = f"topic-archive-search-YYYY-MM-DD.{extension}"
    return {
        "Content-Disposition": {
            "description": f'attachment; filename="{name}", the date being the day of the export.',
            "schema": {"type": "string"},
        }
    }


def _operation(operation_id: str, summary: str, description: str, parameters, responses: dict) -> dict:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "description": description,
            "parameters": [_ref("parameters", name) for name in parameters],
            "responses": responses,
        }
    }


def _paths(examples: dict) -> dict:
    bad_request = _ref("responses", "BadRequest")
    not_found = _ref("responses", "NotFound")
    text = {"type": "string"}
    return {
        "/api/search": _operation(
            "searchArticles",
            "Search the archive",
            "One page of matches with facet counts over every match, a timeline and a spelling suggestion.",
            SEARCH_PARAMETERS,
            {
                "200": {"description": "A page of matches.", "content": _json("SearchResult", examples["search"])},
                "400": bad_request,
            },
        ),
        "/api/articles": {"post": _ingest_operation(examples)},
        "/api/articles/{id}": _operation(
            "getArticle",
            "One article",
            "Metadata, clean text, each topic's score with its evidence, and people's corrections.",
            ("article_id",),
            {
                "200": {"description": "The article.", "content": _json("Article", examples["article"])},
                "404": not_found,
            },
        ),
        "/api/articles/{id}/similar": _operation(
            "getSimilarArticles",
            "Articles like one article",
            "Other coverage of the same story, and more articles on the same subject.",
            ("article_id",),
            {
                "200": {"description": "Similar articles.", "content": _json("Similar", examples["similar"])},
                "404": not_found,
            },
        ),
        "/api/sources": _operation(
            "listSources",
            "Followed sources",
            "The feeds the archive follows, as the Sources page lists them: status, schedule, last poll and "
            "error, and the articles each has given (search with source=<name> to read them).",
            (),
            {"200": {"description": "Every followed source.", "content": _json("SourceList", examples["sources"])}},
        ),
        "/export.csv": _operation(
            "exportCsv",
            "Every match as CSV",
            'Columns id, title, url, source, date, author, topics (joined by "; "), snippet; cells a spreadsheet '
            "would read as a formula start with an apostrophe. " + _EXPORT_NOTE,
            EXPORT_PARAMETERS,
            {
                "200": {
                    "description": "CSV with a header row.",
                    "headers": _download("csv"),
                    "content": {"text/csv": {"schema": text, "example": examples["csv"]}},
                },
                "400": bad_request,
            },
        ),
        "/export.jsonl": _operation(
            "exportJsonLines",
            "Every match as JSON Lines",
            "One ExportRecord (see components) per line: the CSV's columns as keys, topics as an array. "
            + _EXPORT_NOTE,
            EXPORT_PARAMETERS,
            {
                "200": {
                    "description": "One JSON object per line.",
                    "headers": _download("jsonl"),
                    "content": {"application/x-ndjson": {"schema": text, "example": examples["jsonl"]}},
                },
                "400": bad_request,
            },
        ),
        "/feed.atom": _operation(
            "searchFeed",
            "Follow a search as an Atom feed",
            "The newest matches of the search, newest first, for a feed reader.",
            SEARCH_FILTERS,
            {
                "200": {
                    "description": "An Atom feed.",
                    "content": {"application/atom+xml": {"schema": text, "example": examples["atom"]}},
                },
                "400": bad_request,
            },
        ),
        "/healthz": _operation(
            "health",
            "Liveness check",
            "200 with the article count while the store answers; a 500 otherwise.",
            (),
            {"200": {"description": "The archive answers.", "content": _json("Health", examples["health"])}},
        ),
    }


def _ingest_operation(examples: dict) -> dict:
    outcome = {"outcomes": [examples["outcome"]]}
    failed = {"outcomes": [{**examples["outcome"], "status": "failed", "id": None, "title": None, "topics": [],
                            "error": "http://10.0.0.1/ could not be fetched: 10.0.0.1 is a private or local address; "
                            "fetching it is not allowed."}]}  # fmt: skip
    duplicate = {
        "outcomes": [{**examples["outcome"], "status": "duplicate", "duplicate_of": examples["outcome"]["id"]}]
    }
    return {
        "operationId": "ingestArticle",
        "summary": "Add an article",
        "description": "Ingests one URL, HTML page or titled text for a script holding an API token "
        "(`archive token create NAME`): extracted, deduplicated, tagged and searchable at once.",
        "security": [{"bearerToken": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("schemas", "IngestRequest"), "example": INGEST_EXAMPLE}},
        },
        "responses": {
            "201": {"description": "At least one article was added.", "content": _json("IngestResult", outcome)},
            "200": {"description": "Nothing new: duplicates or updates.", "content": _json("IngestResult", duplicate)},
            "400": _ref("responses", "BadRequest"),
            "401": {
                "description": "No valid API token.",
                "content": _json("Error", {"error": "Send a valid API token: Authorization: Bearer <token>."}),
            },
            "422": {"description": "The input could not be ingested.", "content": _json("IngestResult", failed)},
        },
    }


@cache
def openapi_document() -> dict:
    """The whole OpenAPI document; built on first use and shared after, so callers must not change it."""
    examples = _examples()
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "topic-archive API",
            "version": _package_version(),
            "summary": "Search a topic-tagged archive of news about online child protection.",
            "description": "Reading is unauthenticated unless the archive requires sign-in; adding an article "
            "(POST /api/articles) needs an API token sent as `Authorization: Bearer <token>`. "
            "A search that cannot run (400) "
            'or an unknown article (404) is answered with {"error": "one sentence"}. The query language is '
            "explained at /help.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/", "description": "This archive"}],
        "paths": _paths(examples),
        "components": {
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `archive token create NAME`, shown once; only its hash is stored.",
                }
            },
            "schemas": _schemas(),
            "parameters": _parameters(),
            "responses": {
                "BadRequest": {
                    "description": "A parameter or the query cannot be used; the message says which.",
                    "content": _json("Error", {"error": "Sort must be one of relevance, newest or oldest."}),
                },
                "NotFound": {
                    "description": "No article has this id.",
                    "content": _json("Error", {"error": "No article has the id 'nope'."}),
                },
            },
        },
    }

"""The reader's documentation: search help (/help), the API page (/api) and its OpenAPI document."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from flask import Blueprint, jsonify, render_template, request, url_for

from archive.models import SearchQuery

from .extension import get_archive
from .openapi import EXAMPLE_ID, openapi_document
from .search_state import SearchState

bp = Blueprint("docs", __name__)


@dataclass(frozen=True)
class Example:
    """One search on the help page: the query as typed, and what it finds."""

    q: str
    finds: str

    @property
    def url(self) -> str:
        return url_for("search.results", q=self.q)


@dataclass(frozen=True)
class ExampleGroup:
    """One table of examples on the help page, under its own heading."""

    slug: str
    title: str
    intro: str
    examples: tuple[Example, ...]


@dataclass(frozen=True)
class UrlParameter:
    """One parameter of a results page's address, with a search that uses it."""

    name: str
    values: str
    meaning: str
    example: tuple[tuple[str, str], ...]

    @property
    def url(self) -> str:
        return url_for("search.results") + "?" + urlencode(self.example)


@dataclass(frozen=True)
class ExportFormat:
    """A way to take a search away: a file of every match, or a feed of the newest."""

    path: str
    name: str
    what: str

    @property
    def url(self) -> str:
        return request.script_root + self.path + "?" + urlencode(EXPORT_EXAMPLE)


QUERY_EXAMPLES: tuple[ExampleGroup, ...] = (
    ExampleGroup("words", "Words and operators", "Every word is required unless you say otherwise. Operators are "
                 "written in capitals; brackets group them.", (
        Example("grooming arrests", "Articles with both words."),
        Example("grooming OR sextortion", "Articles with either word, or both."),
        Example("encryption AND police", "Both words, as without AND; write it to make a long query clearer."),
        Example("encryption NOT apple", "Encryption, leaving out every article that mentions apple."),
        Example("encryption -apple", "The same: a minus sign before a word leaves it out."),
        Example("(grooming OR sextortion) police", "Brackets group words: either of the first two, and police."),
    )),
    ExampleGroup("forms", "Phrases, prefixes and spelling", "Quotes keep words together; a star and a tilde widen "
                 "a single word.", (
        Example('"online safety"', "The exact phrase: the words side by side, in this order."),
        Example("encrypt*", "Words starting with encrypt: encrypted, encryption, encrypting."),
        Example("grooming~", "Words within one letter of grooming, which also finds misspellings in the sources."),
        Example("grooming~2", "Words within two letters of grooming: wider, and less precise."),
        Example("arrests", "Word forms are matched too: arrests also finds arrest, arrested and arresting."),
        Example("Europaische", "Accents do not matter: Europaische finds Europäische, and the other way round."),
    )),
    ExampleGroup("fields", "Fields", "A field name and a colon search one part of an article only. Put a value with "
                 "spaces in quotes.", (
        Example("title:encryption", "Encryption in the headline."),
        Example('title:"online safety"', "The phrase in the headline."),
        Example("author:whitlock", "Articles by an author called Whitlock."),
        Example('source:"The Harbour Courier"', "Articles from one publication, its name written exactly."),
        Example("topic:prevention", "Articles tagged with a topic (the topics are listed below)."),
        Example("sextortion topic:law_enforcement", "Sextortion, in articles tagged Law enforcement."),
        Example("lang:en", "Articles in a language, by its two-letter code: en, de, fr…"),
    )),
    ExampleGroup("dates", "Dates", "The date field takes a year, a month or a day, a range in square brackets, or "
                 "a comparison.", (
        Example("date:2021", "Published in 2021."),
        Example("date:2021-03", "Published in March 2021."),
        Example("date:[2019 to 2021]", "Published from the start of 2019 to the end of 2021."),
        Example("date:[2020-01 to 2020-06]", "Published in the first half of 2020."),
        Example("date:>2020", "Published after 2020."),
        Example("date:<2019-06", "Published before June 2019."),
        Example("sextortion date:[2022 to 2025]", "Sextortion, published from 2022 to 2025."),
    )),
)  # fmt: skip

URL_PARAMETERS: tuple[UrlParameter, ...] = (
    UrlParameter("q", "text", "The search, as typed in the search box.", (("q", "grooming"),)),
    UrlParameter("topic", "a topic name", "Only articles with this topic. Repeat it to require several topics: "
                 "all of them must apply.", (("topic", "policy"), ("topic", "prevention"))),
    UrlParameter("source", "a publication's name", "Only articles from this publication, its name written exactly.",
                 (("q", "sextortion"), ("source", "Lakeshore Tribune"))),
    UrlParameter("lang", "a language code", "Only articles in this language (two letters, such as en).",
                 (("q", "encryption"), ("lang", "en"))),
    UrlParameter("from", "YYYY, YYYY-MM or YYYY-MM-DD", "Only articles published on or after the start of this "
                 "year, month or day.", (("q", "helpline"), ("from", "2020-03"))),
    UrlParameter("to", "YYYY, YYYY-MM or YYYY-MM-DD", "Only articles published on or before the end of this year, "
                 "month or day.", (("q", "grooming"), ("from", "2012"), ("to", "2019"))),
    UrlParameter("sort", "relevance, newest or oldest", "The order of the results. Relevance is the default; "
                 "without search words the newest come first.", (("q", "encryption"), ("sort", "oldest"))),
    UrlParameter("page", "1, 2, 3…", "The page of results.", (("q", "police"), ("page", "2"))),
    UrlParameter("per_page", "1 up to the maximum", "Results per page.", (("q", "police"), ("per_page", "25"))),
)  # fmt: skip

EXPORT_EXAMPLE = (("q", "grooming"), ("topic", "law_enforcement"), ("sort", "newest"))
EXPORT_FORMATS: tuple[ExportFormat, ...] = (
    ExportFormat("/export.csv", "CSV", "Every match, for a spreadsheet: id, title, url, source, date, author, topics "
                 "and snippet."),
    ExportFormat("/export.jsonl", "JSON Lines", "Every match as one JSON object a line, with the same keys; topics "
                 "are a list."),
    ExportFormat("/feed.atom", "Atom feed", "The newest matches, for a feed reader: subscribe to follow a search."),
)  # fmt: skip

# The query parameters of the request each endpoint's example on the API page makes.
EXAMPLE_REQUESTS: dict[str, tuple[tuple[str, str], ...]] = {
    "/api/search": (("q", "grooming OR sextortion"), ("topic", "law_enforcement"), ("sort", "newest"),
                    ("per_page", "5")),
    "/export.csv": (("q", "grooming"), ("from", "2020")),
    "/export.jsonl": (("q", "grooming"), ("from", "2020")),
    "/feed.atom": (("q", "sextortion"), ("topic", "law_enforcement")),
}  # fmt: skip


@dataclass(frozen=True)
class ParameterRow:
    """One parameter of an endpoint as the API page lists it."""

    name: str
    location: str
    values: str
    description: str


@dataclass(frozen=True)
class SampleResponse:
    """One documented response: status, media type and a sample body (None when the document has none)."""

    status: str
    description: str
    media_type: str | None
    schema: str | None
    body: str | None


@dataclass(frozen=True)
class Endpoint:
    """One operation of the OpenAPI document, ready for the API page."""

    method: str
    path: str
    summary: str
    description: str
    parameters: tuple[ParameterRow, ...]
    href: str | None  # the example request, relative to this site; None when a browser cannot make it
    curl: str
    responses: tuple[SampleResponse, ...]

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", f"{self.method} {self.path}".lower()).strip("-")


@bp.get("/help")
def search_help():
    arch = get_archive()
    return render_template(
        "help.html",
        groups=QUERY_EXAMPLES,
        topics=arch.taxonomy.topics,
        parameters=URL_PARAMETERS,
        exports=EXPORT_FORMATS,
        max_per_page=arch.config.max_per_page,
        state=SearchState(),
    )


@bp.get("/api")
def api_page():
    endpoints = api_endpoints(openapi_document(), _sample_id())
    return render_template("api_docs.html", endpoints=endpoints, state=SearchState())


@bp.get("/api/openapi.json")
def openapi_json():
    return jsonify(openapi_document())


def api_endpoints(document: dict, article_id: str) -> list[Endpoint]:
    """Every operation in `document`, each with an example request to this site (about `article_id`)."""
    endpoints = []
    for path, item in document["paths"].items():
        target = re.sub(r"\{\w+\}", quote(article_id, safe=""), path)
        if EXAMPLE_REQUESTS.get(path):
            target += "?" + urlencode(EXAMPLE_REQUESTS[path])
        for method, operation in item.items():
            url = shlex.quote(request.url_root.rstrip("/") + target)
            if method == "get":
                href, curl = request.script_root + target, f"curl {url}"
            else:
                body = operation["requestBody"]["content"]["application/json"]["example"]
                headers = "-H 'Authorization: Bearer $TOKEN' -H 'Content-Type: application/json'"
                href = None
                curl = f"curl -X {method.upper()} {headers} \\\n  -d {shlex.quote(json.dumps(body))} {url}"
            endpoints.append(
                Endpoint(
                    method=method.upper(),
                    path=path,
                    summary=operation["summary"],
                    description=operation["description"],
                    parameters=tuple(_parameter_row(_resolve(document, p)) for p in operation.get("parameters", ())),
                    href=href,
                    curl=curl,
                    responses=tuple(_samples(document, operation["responses"])),
                )
            )
    return endpoints


def _resolve(document: dict, node: dict) -> dict:
    """`node` itself, or the part of `document` its local $ref ("#/components/...") points to."""
    if "$ref" not in node:
        return node
    target = document
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return _resolve(document, target)


def _parameter_row(parameter: dict) -> ParameterRow:
    schema = parameter["schema"]
    repeatable = schema["type"] == "array"
    value = schema["items"] if repeatable else schema
    notes = ["repeatable"] if repeatable else []
    if "default" in schema:
        notes.append(f"default {schema['default']}")
    if "example" in parameter and "enum" not in value:
        notes.append(f"e.g. {parameter['example']}")
    values = ", ".join(value["enum"]) if "enum" in value else value["type"]
    return ParameterRow(parameter["name"], parameter["in"], "; ".join([values, *notes]), parameter["description"])


def _samples(document: dict, responses: dict) -> Iterator[SampleResponse]:
    for status, response in responses.items():
        response = _resolve(document, response)
        content = response.get("content") or {None: {}}
        for media_type, media in content.items():
            example = media.get("example")
            if isinstance(example, (dict, list)):
                example = json.dumps(example, indent=2, ensure_ascii=False)
            schema = media.get("schema", {}).get("$ref", "").rpartition("/")[2] or None
            yield SampleResponse(status, response["description"], media_type, schema, example)


def _sample_id() -> str:
    """The newest article's id, so that the page's examples work here; a made-up id while the archive is empty."""
    newest = get_archive().search(SearchQuery(sort="newest", per_page=1)).hits
    return newest[0].id if newest else EXAMPLE_ID

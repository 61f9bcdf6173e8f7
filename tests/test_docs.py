"""The search help and API pages and the OpenAPI document: rendered, linked, and true to the app's routes."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from bs4 import BeautifulSoup

from archive.models import TOPICS, SearchQuery
from tests.conftest import make_app
from web.extension import close_archive
from web.openapi import EXAMPLE_ID, openapi_document
from web.security import HEADERS

# Routes the concurrent search/export change is adding; until they land, only "is it routed?" may skip.
PENDING_PATHS = frozenset({"/api/articles/{id}/similar", "/export.csv", "/export.jsonl", "/feed.atom"})
SEARCH_PARAMETERS = ["q", "topic", "source", "lang", "from", "to", "sort", "page", "per_page"]
EXPORT_PATHS = {"/export.csv", "/export.jsonl", "/feed.atom"}

# Every piece of the query language the help page must show by example.
SYNTAX = [
    " OR ", " AND ", " NOT ", " -", '"', "*", "~", "~2", "(", "title:", "author:", "source:", "topic:", "lang:",
    "date:2021", "date:2021-03", "date:[2019 to 2021]", "date:[2020-01 to 2020-06]", "date:>2020", "date:<2019-06",
    "arrests", "Europaische",
]  # fmt: skip


@pytest.fixture
def ceop_id(seeded_archive) -> str:
    (hit,) = seeded_archive.search(SearchQuery(q="CEOP")).hits
    return hit.id


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def soup_of(response) -> BeautifulSoup:
    assert response.status_code == 200, response.status_code
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def rule_of(path: str) -> str:
    """An OpenAPI path as a Flask rule: /api/articles/{id} -> /api/articles/<article_id>."""
    return path.replace("{id}", "<article_id>")


def path_of(rule: str) -> str:
    """A Flask rule as an OpenAPI path: /api/articles/<article_id> -> /api/articles/{id}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: "{id}" if m[1] == "article_id" else "{" + m[1] + "}", rule)


def pointer(document: dict, ref: str):
    """The part of `document` a local $ref names (a JSON Pointer after '#'); KeyError when there is none."""
    assert ref.startswith("#/"), ref
    target = document
    for part in ref[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def refs_in(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs_in(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs_in(value)]
    return []


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
    "integer": int, "number": (int, float),
}  # fmt: skip


def problems(document: dict, value, schema: dict, where: str = "$") -> list[str]:
    """Where `value` breaks `schema`; an object may hold only the properties its schema (with allOf) names."""
    schema = pointer(document, schema["$ref"]) if "$ref" in schema else schema
    parts = [schema] + [pointer(document, b["$ref"]) if "$ref" in b else b for b in schema.get("allOf", [])]
    schema = {k: v for part in reversed(parts) for k, v in part.items()}  # allOf: every part applies
    properties = {k: v for part in parts for k, v in part.get("properties", {}).items()}
    required = [name for part in parts for name in part.get("required", [])]
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(isinstance(value, TYPES[k]) and (k == "boolean") == isinstance(value, bool) for k in kinds):
            return [f"{where}: {value!r} is not {' or '.join(kinds)}"]
    found: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        found.append(f"{where}: {value!r} is not {schema['const']!r}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        found.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, (int, float)) and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        found.append(f"{where}: {value!r} is out of range")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += problems(document, item, schema["items"], f"{where}[{i}]")
    if isinstance(value, dict):
        found += [f"{where}: {name!r} is missing" for name in required if name not in value]
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in properties:
                found += problems(document, item, properties[name], f"{where}.{name}")
            elif isinstance(extra, dict):
                found += problems(document, item, extra, f"{where}.{name}")
            elif properties:
                found.append(f"{where}: {name!r} is not documented")
    return found


# -- the search help page ------------------------------------------------------------------


def test_help_page_has_a_heading_and_its_sections(client):
    page = soup_of(client.get("/help"))
    assert page.select_one("main h1").text.strip() == "Search help"
    headings = [h.text.strip() for h in page.select("main h2")]
    for expected in ("Words and operators", "Phrases, prefixes and spelling", "Fields", "Dates", "Topics",
                     "Filters in the address", "Export and follow a search"):  # fmt: skip
        assert expected in headings
    for link in page.select(".doc-toc a"):
        assert page.find(id=link["href"].removeprefix("#")) is not None, link["href"]


def example_links(page: BeautifulSoup) -> list:
    """The links of the query-language tables: each shows a query and runs it."""
    return [
        link
        for link in page.select(".doc-table tbody th a.doc-example")
        if urlsplit(link["href"]).path in {"/", "/search"} and "q" in parse_qs(urlsplit(link["href"]).query)
    ]


def test_every_help_example_is_a_link_that_runs_what_it_shows(client):
    links = example_links(soup_of(client.get("/help")))
    assert len(links) >= 25
    for link in links:
        assert parse_qs(urlsplit(link["href"]).query) == {"q": [link.text]}
        response = client.get(link["href"])
        page = soup_of(response)  # 200: the search language of the page is the engine's
        assert page.select_one(".notice--error") is None, link.text
        assert page.select_one("main form[role=search] input[name=q]")["value"] == link.text


@pytest.mark.parametrize("syntax", SYNTAX)
def test_help_shows_each_piece_of_the_language(client, syntax):
    queries = [link.text for link in example_links(soup_of(client.get("/help")))]
    assert any(syntax in query for query in queries), syntax


def test_help_lists_every_topic_with_its_search(client, seeded_archive):
    page = soup_of(client.get("/help"))
    queries = {link.text for link in example_links(page)}
    text = page.select_one("#topics").find_parent("section").text
    for topic in seeded_archive.taxonomy.topics:
        assert f"topic:{topic.name}" in queries
        assert topic.label in text and " ".join(topic.definition.split()) in " ".join(text.split())


def test_help_explains_every_url_parameter_with_a_working_example(client):
    page = soup_of(client.get("/help"))
    table = page.select_one("#filters").find_parent("section").select_one("table")
    assert [th.text for th in table.select("tbody th[scope=row]")] == SEARCH_PARAMETERS
    for row in table.select("tbody tr"):
        name = row.th.text
        href = row.select_one("a")["href"]
        assert name in parse_qs(urlsplit(href).query), name
        page = soup_of(client.get(href))
        assert page.select_one(".notice--error") is None, href
    topic_row = table.select("tbody tr")[SEARCH_PARAMETERS.index("topic")]
    assert len(parse_qs(urlsplit(topic_row.a["href"]).query)["topic"]) == 2  # shown repeated


def test_help_offers_each_export_with_the_search_parameters(client):
    section = soup_of(client.get("/help")).select_one("#export").find_parent("section")
    links = [urlsplit(a["href"]) for a in section.select("a.doc-example")]
    assert {link.path for link in links} == EXPORT_PATHS
    assert len({link.query for link in links}) == 1 and "q" in parse_qs(links[0].query)
    assert section.select_one('a[href="/api"]') is not None


# -- the API page --------------------------------------------------------------------------


def test_api_page_shows_each_operation_with_curl_and_a_sample(client, document, seeded_archive):
    page = soup_of(client.get("/api"))
    assert page.select_one("main h1").text.strip() == "API"
    assert page.select_one('main a[href="/api/openapi.json"]') is not None
    sections = page.select("section.endpoint")
    assert len(sections) == len(list(operations(document)))
    for section, (path, method, operation) in zip(sections, operations(document), strict=True):
        assert section.h2.text.split() == [method.upper(), path]
        assert operation["summary"] in section.text
        curl = section.select_one("pre").text
        if method != "get":  # a browser cannot send it: curl with a token and a JSON body, no link
            assert curl.startswith(f"curl -X {method.upper()} ") and "Authorization: Bearer $TOKEN" in curl
            assert section.select_one("a.doc-try") is None and "-d '{" in curl
            assert curl.rstrip().endswith(" http://localhost" + path)
            continue
        href = section.select_one("a.doc-try")["href"]
        assert curl.startswith("curl ") and curl.removeprefix("curl ").strip("'") == "http://localhost" + href
        match = re.fullmatch(re.escape(path).replace(r"\{id\}", "([^/]+)"), urlsplit(href).path)
        assert match, (path, href)
        if match.groups():  # a stored article, so that the example works against this archive
            seeded_archive.get(match[1])
        documented = {p.get("name") or pointer(document, p["$ref"])["name"] for p in operation["parameters"]}
        assert {code.text for code in section.select("tbody th[scope=row] code")} == documented
        assert section.select_one(".doc-response pre") is not None  # a sample body
        for response in section.select(".doc-response"):
            media_type = response.select_one(".doc-response__type")
            if media_type and "application/json" in media_type.text:
                json.loads(response.select_one("pre").text)


def test_api_page_example_requests_answer_as_documented(client, document):
    page = soup_of(client.get("/api"))
    for section, (path, method, operation) in zip(page.select("section.endpoint"), operations(document), strict=True):
        if method != "get":
            continue  # needs a token; tests/test_web_auth.py sends it
        href = section.select_one("a.doc-try")["href"]
        with client.get(href) as response:  # exports stream: close them
            assert response.status_code == 200, href
            assert response.mimetype in operation["responses"]["200"]["content"], (path, response.mimetype)


def test_api_page_of_an_empty_archive_uses_the_made_up_id(archive):
    app = make_app(archive.config.data_dir)
    try:
        page = soup_of(app.test_client().get("/api"))
    finally:
        close_archive(app)
    assert f"/api/articles/{EXAMPLE_ID}" in {a["href"] for a in page.select("a.doc-try")}


# -- both pages ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/help", "/api"])
def test_doc_pages_are_accessible(client, path):
    page = soup_of(client.get(path))
    levels = [int(h.name[1]) for h in page.select("main h1, main h2, main h3, main h4, main h5, main h6")]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), levels
    tables = page.select("table")
    assert tables
    for table in tables:
        assert table.caption is not None and table.caption.text.strip()
        assert all(th.get("scope") in {"col", "row"} for th in table.select("th"))
    for section in page.select("section[aria-labelledby]"):
        assert page.find(id=section["aria-labelledby"]) is not None
    ids = [tag["id"] for tag in page.find_all(id=True)]
    assert len(ids) == len(set(ids))
    assert page.select_one('meta[name=viewport][content*="width=device-width"]') is not None


@pytest.mark.parametrize("path", ["/help", "/api"])
def test_doc_pages_have_no_inline_code_and_no_external_resources(client, path):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == HEADERS["Content-Security-Policy"]
    page = soup_of(response)
    assert page.find("style") is None and page.find(attrs={"style": True}) is None
    assert all(script.get("src") for script in page.find_all("script"))
    assert not [tag for tag in page.find_all(True) if any(a.startswith("on") for a in tag.attrs)]
    for tag in page.find_all(["link", "script", "img", "a"]):
        address = tag.get("href") or tag.get("src") or ""
        assert not re.match(r"(?i)([a-z]+:)?//", address), address


@pytest.mark.parametrize(("path", "current"), [("/", None), ("/help", "Search help"), ("/api", "API")])
def test_header_links_to_help_and_api(client, path, current):
    nav = soup_of(client.get(path)).select_one("header nav")
    links = {a.text: a for a in nav.select("a")}
    assert links["Search help"]["href"] == "/help" and links["API"]["href"] == "/api"
    assert [text for text, a in links.items() if a.get("aria-current") == "page"] == ([current] if current else [])


# -- the OpenAPI document ------------------------------------------------------------------


def test_openapi_document_is_3_1_with_reused_parameters(document):
    assert document == openapi_document() and openapi_document() is openapi_document()  # built once
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert document["servers"] == [{"url": "/", "description": "This archive"}]
    assert {"schemas", "parameters", "responses"} <= set(document["components"])
    search = document["paths"]["/api/search"]["get"]
    assert all(set(p) == {"$ref"} and p["$ref"].startswith("#/components/parameters/") for p in search["parameters"])
    parameters = [pointer(document, p["$ref"]) for p in search["parameters"]]
    assert [p["name"] for p in parameters] == SEARCH_PARAMETERS
    topic = parameters[1]
    assert topic["schema"]["type"] == "array" and topic["explode"]
    assert topic["schema"]["items"]["enum"] == [*TOPICS, "off_topic"]
    sort = pointer(document, "#/components/parameters/sort")["schema"]
    assert sort["enum"] == ["relevance", "newest", "oldest"]
    for path in ("/export.csv", "/export.jsonl"):
        names = [pointer(document, p["$ref"])["name"] for p in document["paths"][path]["get"]["parameters"]]
        assert names == [n for n in SEARCH_PARAMETERS if n not in {"page", "per_page"}]
    result = pointer(document, "#/components/schemas/SearchResult")
    assert set(result["properties"]["facets"]["required"]) == {"topic", "source", "year", "language"}
    assert set(result["required"]) == {"query", "total", "page", "per_page", "took_ms", "hits", "facets", "timeline",
                                       "suggestion"}  # fmt: skip


def test_every_ref_resolves_inside_the_document(document):
    refs = refs_in(document)
    assert len(refs) > 20
    for ref in set(refs):
        assert isinstance(pointer(document, ref), dict), ref


def test_documented_paths_exist_in_the_app(app, document):
    rules = {}
    for rule in app.url_map.iter_rules():
        rules.setdefault(rule.rule, set()).update(rule.methods or ())
    missing = []
    for path, method, _ in operations(document):
        if rule_of(path) not in rules:
            missing.append(path)
        else:
            assert method.upper() in rules[rule_of(path)], (method, path)
    assert not set(missing) - PENDING_PATHS, f"documented but not routed: {sorted(set(missing) - PENDING_PATHS)}"
    if missing:
        pytest.skip(f"not routed yet (the search/export change adds them): {', '.join(sorted(set(missing)))}")


def test_every_api_route_is_documented(app, document):
    checked = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and "GET" in (rule.methods or ()) and rule.rule != "/api/openapi.json":
            assert "get" in document["paths"].get(path_of(rule.rule), {}), f"{rule.rule} is not documented"
            checked.append(rule.rule)
    assert {"/api/search", "/api/articles/<article_id>"} <= set(checked)


def media_examples(document: dict):
    """(where, media type, schema, example) of every response the document shows a sample of."""
    responses = [(f"{m.upper()} {p} {s}", r) for p, m, o in operations(document) for s, r in o["responses"].items()]
    responses += list(document["components"]["responses"].items())
    for where, response in responses:
        response = pointer(document, response["$ref"]) if "$ref" in response else response
        for media_type, media in response.get("content", {}).items():
            yield where, media_type, media["schema"], media["example"]


def test_examples_match_their_schemas(document):
    seen = set()
    record = {"$ref": "#/components/schemas/ExportRecord"}
    columns = list(pointer(document, record["$ref"])["properties"])
    for where, media_type, schema, example in media_examples(document):
        seen.add(media_type)
        if media_type == "application/json":
            assert problems(document, example, schema) == [], where
        elif media_type == "application/x-ndjson":
            for line in example.splitlines():
                assert problems(document, json.loads(line), record) == [], where
                assert list(json.loads(line)) == columns
        elif media_type == "text/csv":
            header, *rows = list(csv.reader(io.StringIO(example)))
            assert header == columns and rows and all(len(row) == len(columns) for row in rows)
    assert seen == {"application/json", "application/x-ndjson", "text/csv", "application/atom+xml"}


@pytest.mark.parametrize(
    ("schema", "value", "fault"),
    [
        ("Error", {}, "missing"),
        ("Error", {"error": "x", "code": 1}, "not documented"),
        ("Hit", {"id": "a", "title": "t", "url": None, "source": None, "date": None, "topics": [], "score": 1},
         "'snippet' is missing"),
        ("Correction", {"topic": "policy", "action": "undo", "user": "u", "created_at": "t"}, "not in"),
        ("Health", {"status": "ok", "articles": -1}, "out of range"),
        ("TimelineBucket", {"period": "March", "total": 1, "topics": {}}, "does not match"),
        ("Article", {"id": 1}, "is not string"),
    ],
)  # fmt: skip
def test_the_schema_checker_finds_faults(document, schema, value, fault):
    found = problems(document, value, {"$ref": f"#/components/schemas/{schema}"})
    assert any(fault in problem for problem in found), found


def test_live_responses_match_the_schemas(client, document, ceop_id):
    def check(url: str, status: int, schema: str, part=lambda body: [body]):
        response = client.get(url)
        assert response.status_code == status, url
        for value in part(response.get_json()):
            assert problems(document, value, {"$ref": f"#/components/schemas/{schema}"}) == [], url

    check("/api/search?q=images+OR+CEOP&sort=oldest", 200, "SearchResult")
    check(f"/api/articles/{ceop_id}/similar", 200, "Similar")
    check("/api/articles/no-such-id/similar", 404, "Error")
    check(f"/api/articles/{ceop_id}", 200, "Article")
    check("/api/articles/no-such-id", 404, "Error")
    check("/api/search?q=images+OR+CEOP", 200, "Hit", part=lambda body: body["hits"])
    check("/api/search?q=%22", 400, "Error")
    check("/healthz", 200, "Health")

    record = {"$ref": "#/components/schemas/ExportRecord"}
    columns = list(pointer(document, record["$ref"])["properties"])
    with client.get("/export.csv?q=images") as response:
        header, *rows = csv.reader(io.StringIO(response.get_data(as_text=True)))
    assert header == columns and len(rows) == 2
    with client.get("/export.jsonl?q=images") as response:
        lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(lines) == 2 and [problems(document, line, record) for line in lines] == [[], []]


def test_api_page_examples_use_only_documented_parameters(client):
    page = soup_of(client.get("/api"))
    for link in page.select("a.doc-try"):
        path, query = urlsplit(link["href"])[2:4]
        section = link.find_parent("section")
        documented = {code.text for code in section.select("tbody th[scope=row] code")}
        assert {name for name, _ in parse_qsl(query)} <= documented, path

"""HTML pages: main text by trafilatura after media is stripped; metadata from JSON-LD and meta tags."""

from __future__ import annotations

import html as html_lib
import json
import logging
import re
from copy import deepcopy
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import lxml.html
import trafilatura
from bs4 import BeautifulSoup
from lxml import etree
from trafilatura.metadata import extract_author
from whoosh.lang.porter import stem

from archive.errors import ExtractionError
from archive.models import Article

from .clean import holds_run, normalize_line, normalize_text, strip_control_characters, undo_mojibake, word_list
from .dates import PUBLISHED_META, choose_date
from .fragments import FIGURE_TEXT_TAGS, MEDIA_TAGS
from .text import MIN_BODY_WORDS, derive_title, split_paragraphs

LOGGER = logging.getLogger(__name__)

ARTICLE_TYPES = {
    "newsarticle",
    "article",
    "blogposting",
    "reportagenews",
    "analysisnewsarticle",
    "report",
    "opinionnewsarticle",
    "webpage",
    "socialmediaposting",
}
TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|_ga|ref_src|cmpid)$", re.I)
TITLE_SEPARATORS = re.compile(r"\s+[|–—·•»:~-]\s+")
RECALL_GAIN = 1.1  # see extract_main_text
BASELINE_GAIN = 2.0
LD_BODY_GAIN = 1.5  # see choose_body
HEADLINE_LABEL_WORDS = 5  # see headline_text
TRUNCATED_TITLE_CHARS = 100  # see untruncated
_DATE_WORDS = re.compile(
    r"\b(?:posted|published|updated|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b.*\d|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}",
    re.I,
)
_KICKER = re.compile(r"^\s*\w+(?:\s+\w+)?:\s*")  # see choose_title
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>?")


def clean_url(url: str | None) -> str | None:
    """The URL without tracking parameters or fragment."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)]
    )
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", query, ""))


def _json_ld_articles(soup: BeautifulSoup) -> list[dict]:
    found = []
    for script in soup.find_all("script", type=re.compile("ld\\+json", re.I)):
        try:
            data = json.loads(script.string or "")
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if not isinstance(item, dict):
                continue
            stack.extend(item.get("@graph", []) if isinstance(item.get("@graph"), list) else [])
            types = item.get("@type", [])
            types = [types] if isinstance(types, str) else types
            if any(str(t).lower() in ARTICLE_TYPES for t in types):
                found.append(item)
    # Prefer real articles over generic web pages.
    return sorted(found, key=lambda d: str(d.get("@type")).lower() == "webpage")


def person_names(value) -> list[str]:
    """Person names from a JSON-LD author value (string, object or list of either)."""
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip() and not name.lower().startswith("http"):
            names.append(name.strip())
    return names


def _meta(soup: BeautifulSoup, *keys: str) -> str | None:
    """The content of the first meta tag naming one of `keys` (by property, name, then itemprop)."""
    tags = soup.find_all("meta")  # once: a search of the whole page per key and attribute is slow
    for key in keys:
        tag = next((t for attr in ("property", "name", "itemprop") for t in tags if t.get(attr) == key), None)
        if tag and tag.get("content", "").strip():
            return tag["content"].strip()
    return None


def strip_site_name(title: str, site: str | None) -> str:
    """ "Headline | Site" -> "Headline": drops outer parts naming the site, or short ones, never the longest."""
    while separators := list(TITLE_SEPARATORS.finditer(title)):
        first, last = title[: separators[0].start()].strip(), title[separators[-1].end() :].strip()
        if _names_site(first, site) and len(first) < len(last):  # "Site | Headline"
            title = title[separators[0].end() :]
            continue
        if not _names_site(last, site) and len(last.split()) > 3:
            break
        # Only the last part goes: a headline may hold a separator of its own ("A – B – Site").
        title = title[: separators[-1].start()]
    return title.strip()


def _names_site(part: str, site: str | None) -> bool:
    part, site = part.lower(), (site or "").lower()
    return bool(site) and bool(part) and (part == site or part in site or site in part)


def _words(text: str) -> set[str]:
    """The stems of the words of `text` ("apps" and "app", "learning" and "learn" agree)."""
    return {stem(word) for word in word_list(text)}


def choose_title(soup: BeautifulSoup, metadata_titles: list[str], site: str | None) -> str | None:
    """The headline a reader sees (an <h1> that agrees with the page's metadata), else the metadata title.

    Metadata titles are often written for search engines and social cards; the visible <h1> is the
    article's own headline. An <h1> counts when it and a metadata title share more than a third of
    the words of the <h1> and at least a quarter of the title's, which rules out logos, section names,
    widget headings and labels that happen to occur in a long title; without metadata the first <h1> of
    reasonable length stands. An <h1> that is only the short end of a metadata title where sites put
    their names ("Example Blog" in "Example Blog: Headline") names the site even when none is declared. The
    metadata title still wins over an all-capitals <h1> it agrees with (capitals are styling, and the
    metadata keeps the publisher's casing), over an <h1> that holds it plus a dateline or byline, and
    over one that is it behind a label of a word or two and a colon ("Analysis: Headline").
    """
    titles = untruncated([strip_site_name(t, site) for t in metadata_titles if t])
    title_words = [(_words(t), t) for t in titles]
    labels = {" ".join(word_list(part)) for title in metadata_titles for part in _site_ends(title)}
    best, best_share, best_title = None, 0.0, None
    for h1 in soup.find_all("h1", limit=10):
        text = headline_text(h1)
        words = _words(text)
        if not words or len(text) > 300 or _names_site(text, site) or " ".join(word_list(text)) in labels:
            continue
        if not titles:
            return text
        share, title = max(((_agreement(words, stems), t) for stems, t in title_words), key=lambda pair: pair[0])
        if share > best_share:
            best, best_share, best_title = text, share, title
    if not best or best_share < 1 / 3:
        return titles[0] if titles else None
    if best == best.upper():
        return best_title  # an all-capitals <h1> is styling
    seen = word_list(best)
    for title in titles:
        if holds_run(seen, word_list(title)) and _DATE_WORDS.search(re.sub(re.escape(title), "", best, flags=re.I)):
            return title  # the <h1> holds the byline or dateline too
        if (kicker := _KICKER.match(best)) and word_list(best[kicker.end() :]) == word_list(title):
            return title  # "Analysis: Headline": the label before the colon is a section's, not the headline's
    return best


def _site_ends(title: str) -> list[str]:
    """The parts of a title that may name its site: the last part after a separator ("Headline | Site")
    and the part before a colon ("Site: Headline"), each only when shorter than the rest. The first
    part before a separator is not one: it is as often the headline ("Headline | Description")."""
    ends = []
    if len(parts := [p.strip() for p in TITLE_SEPARATORS.split(title)]) > 1:
        ends.append((parts[-1], " ".join(parts[:-1])))
    if len(parts := title.split(": ", 1)) > 1:
        ends.append((parts[0], parts[1]))
    return [end for end, rest in ends if end and len(end) < len(rest)]


def _agreement(headline: set[str], title: set[str]) -> float:
    """Share of the headline's words found in the title; 0 when they make up under a quarter of the
    title, as a one-word label found in a long title ("Discord" in a headline naming five firms)."""
    common = len(headline & title)
    return common / len(headline) if title and common >= len(title) / 4 else 0.0


def headline_text(h1) -> str:
    """The text of a headline element: <br> as a space, entities decoded, mis-decoded UTF-8 repaired,
    short " | label" parts dropped.

    Visible headlines do not use a pipe as punctuation; a short part after one names a section,
    the site or a teaser ("Movers in NYC | Top 19 Companies", "... | Opinion").
    """
    for br in h1.find_all("br"):
        br.replace_with(" ")
    text = _text(h1.get_text()) or ""
    parts = text.split(" | ")
    while len(parts) > 1 and len(parts[-1].split()) <= HEADLINE_LABEL_WORDS:
        parts.pop()
    return " | ".join(parts)


def untruncated(titles: list[str]) -> list[str]:
    """The titles, each that looks cut short replaced by a longer one that starts with the same words."""
    full = []
    for title in titles:
        words = word_list(title.rstrip(" .…"))
        longer = [t for t in titles if len(word_list(t)) > len(words) and word_list(t)[: len(words)] == words]
        full.append(max(longer, key=len) if words and longer and _looks_cut(title) else title)
    return full


def _looks_cut(title: str) -> bool:
    """An ellipsis, an unclosed bracket, or the length at which publishing tools cut (JSON-LD
    headlines are often cut at 110 characters)."""
    unclosed = title.count("(") > title.count(")") or title.count("[") > title.count("]")
    return title.endswith(("…", "...")) or unclosed or len(title) >= TRUNCATED_TITLE_CHARS


def authors_from_byline(value: str) -> list[str]:
    """Names from a byline: "By Jane Doe and John Roe" -> ["Jane Doe", "John Roe"]."""
    value = re.sub(r"^\s*(?:by|written by|words by|author:?)\s+", "", normalize_line(value), flags=re.I)
    value = re.sub(r"\s*[|·•]\s*.*$", "", value)  # "Jane Doe | Reporter"
    parts = re.split(r"\s*(?:,|;|&|\band\b|\bund\b|\bet\b|\by\b)\s*", value)
    return [p.strip(" .") for p in parts if p.strip(" .") and not p.lower().startswith("http")]


def choose_authors(ld_authors: list[str], meta_author: str | None, tree: etree._Element | None) -> str | None:
    """Every named author, each once, in byline order, joined by ", ".

    JSON-LD first, then the author meta tag, then trafilatura's search of the page's byline elements.
    """
    names: list[str] = []
    if not ld_authors and not meta_author and tree is not None:
        byline = extract_author(tree)
        ld_authors = [name for name in (byline or "").split(";") if name.strip()]
    for value in ld_authors or ([meta_author] if meta_author else []):
        names.extend(authors_from_byline(value))
    return ", ".join(dict.fromkeys(n for n in names if len(n) <= 80)) or None


def _media_free_tree(html: str) -> etree._Element | None:
    """The page parsed, with media elements and media-only figures removed."""
    try:
        tree = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return None
    if not isinstance(tree.tag, str):  # a page that is only a comment parses to the comment
        return None
    etree.strip_elements(tree, *MEDIA_TAGS, with_tail=False)
    for figure in list(tree.iter("figure")):
        if not figure.xpath("|".join(f".//{tag}" for tag in FIGURE_TEXT_TAGS)):
            figure.drop_tree()
    return tree


def _trafilatura(tree: etree._Element, **options) -> str:
    text = trafilatura.extract(
        deepcopy(tree),
        output_format="txt",
        include_comments=False,
        include_images=False,
        include_tables=True,
        include_links=False,
        **options,
    )
    return text or ""


def extract_main_text(html: str | etree._Element) -> str:
    """The article body as paragraphs, from the page without any media, by trafilatura.

    trafilatura's default settings sometimes keep one section of a long article. The body is the
    default extraction unless (1) its recall-oriented setting finds at least 10% more words, which
    then means sections were missed, or (2) trafilatura's baseline extractor finds at least twice
    the words and contains at least half of the chosen text, which means the main extractor latched
    onto a fragment of a larger article.
    """
    tree = _media_free_tree(html) if isinstance(html, str) else html
    if tree is None:
        return ""
    body = _trafilatura(tree)
    wider = _trafilatura(tree, favor_recall=True)
    if len(wider.split()) >= RECALL_GAIN * len(body.split()):
        body = wider
    _, baseline, _ = trafilatura.baseline(deepcopy(tree))
    if len(baseline.split()) >= BASELINE_GAIN * len(body.split()) and _contains(baseline, body) >= 0.5:
        body = baseline
    return body


def _contains(outer: str, inner: str) -> float:
    """Share of the word 4-grams of `inner` found in `outer`."""

    def grams(text: str) -> set[tuple[str, ...]]:
        tokens = word_list(text)
        return {tuple(tokens[i : i + 4]) for i in range(max(len(tokens) - 3, 0))}

    inner_grams = grams(inner)
    return len(inner_grams & grams(outer)) / len(inner_grams) if inner_grams else 1.0


def choose_body(extracted: str, ld_body: str) -> str:
    """JSON-LD articleBody is the publisher's own text: it wins when the page shows clearly less
    (a paywall, a script-rendered page), or the same words without their paragraphs."""
    words, ld_words = len(extracted.split()), len(ld_body.split())
    if ld_words >= LD_BODY_GAIN * words:
        return ld_body
    if ld_words >= words and len(split_paragraphs(ld_body)) > len(split_paragraphs(extracted)):
        return ld_body
    return extracted


def extract_html_article(html: str, origin: str, url: str | None = None) -> Article:
    # lxml refuses a str that declares its encoding, and bs4 warns: XHTML pages start with one.
    html = _XML_DECLARATION.sub("", strip_control_characters(html), count=1)
    soup = BeautifulSoup(html, "lxml")
    ld = _json_ld_articles(soup)
    first = ld[0] if ld else {}
    publisher = first.get("publisher")
    site = _text(_meta(soup, "og:site_name", "application-name")) or (
        _text(publisher.get("name")) if isinstance(publisher, dict) else None
    )
    canonical_tag = soup.find("link", rel=lambda v: v and "canonical" in v)
    candidates = [canonical_tag.get("href") if canonical_tag else None, _meta(soup, "og:url"), first.get("url"), url]
    # A canonical link may be relative to the page; one that is no web address gives way to the next.
    canonical = next(
        (clean for c in candidates if isinstance(c, str) and (clean := clean_url(urljoin(url or "", c.strip())))), None
    )
    if not site and canonical:
        site = urlsplit(canonical).netloc.removeprefix("www.")

    page_title = soup.title.get_text(" ", strip=True) if soup.title else None
    metadata_titles = [
        _text(t)
        for t in (first.get("headline"), _meta(soup, "og:title"), _meta(soup, "twitter:title"), page_title)
        if isinstance(t, str) and t.strip()
    ]
    title = choose_title(soup, metadata_titles, site)
    tree = _media_free_tree(html)
    author = choose_authors(
        [_text(n) for n in person_names(first.get("author"))],
        next((a for a in [_text(_meta(soup, "author", "article:author", "byl"))] if a and "http" not in a), None),
        tree,
    )
    items = ld or [first]
    date = choose_date(
        tree,
        url or canonical,
        title,
        published_ld=[_text(item.get("datePublished")) for item in items],
        modified_ld=[_text(item.get("dateModified")) for item in items],
        published_meta=_meta(soup, *PUBLISHED_META),
    )
    html_tag = soup.find("html")
    lang = html_tag.get("lang") if html_tag else None
    language = first.get("inLanguage") if isinstance(first.get("inLanguage"), str) else lang
    language = language.split("-")[0].lower() if language else None

    body = choose_body(
        normalize_text(extract_main_text(tree) if tree is not None else ""),
        normalize_text(html_lib.unescape(str(first.get("articleBody") or ""))),
    )
    paragraphs = split_paragraphs(body)
    while title and paragraphs and normalize_line(paragraphs[0]) == title:  # a page may repeat its headline
        paragraphs = paragraphs[1:]
    body = "\n\n".join(paragraphs)
    if len(body.split()) < MIN_BODY_WORDS:
        raise ExtractionError(f"{origin} has no article text that could be extracted.")
    if not title:
        title = derive_title(paragraphs[0])
    return Article(
        title=title,
        body=body,
        url=clean_url(url) or canonical,
        canonical_url=canonical,
        source=site,
        author=author,
        published=date,
        language=language,
        origin=origin,
    )


def _text(value) -> str | None:
    """A metadata string with HTML entities decoded (many sites escape them twice), mis-decoded UTF-8
    repaired, and spaces folded."""
    if not isinstance(value, str):
        return None
    for _ in range(3):
        value, previous = html_lib.unescape(value), value
        if value == previous:
            break
    return normalize_line(undo_mojibake(value)) or None

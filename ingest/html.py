"""HTML pages: main text by trafilatura after media is stripped; metadata from JSON-LD and meta tags."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import lxml.html
import trafilatura
from bs4 import BeautifulSoup
from lxml import etree

from archive.errors import ExtractionError
from archive.models import Article

from .clean import normalize_line, normalize_text
from .text import MIN_BODY_WORDS, split_paragraphs

LOGGER = logging.getLogger(__name__)

# Media never enters the archive: these elements go before extraction, with everything inside them.
MEDIA_TAGS = (
    "img",
    "picture",
    "source",
    "video",
    "audio",
    "track",
    "iframe",
    "svg",
    "figure",
    "figcaption",
    "object",
    "embed",
    "canvas",
    "map",
    "noscript",
)
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
TITLE_SEPARATORS = re.compile(r"\s+[|–—·:-]\s+")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


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


def iso_date(value: str | None) -> str | None:
    if not value:
        return None
    match = _ISO_DATE.search(value)
    return "-".join(match.groups()) if match else None


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


def _names(value) -> list[str]:
    """Person names from a JSON-LD author value (string, object or list of either)."""
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip() and not name.lower().startswith("http"):
            names.append(name.strip())
    return names


def _meta(soup: BeautifulSoup, *keys: str) -> str | None:
    for key in keys:
        tag = soup.find("meta", attrs={"property": key}) or soup.find("meta", attrs={"name": key})
        if tag and tag.get("content", "").strip():
            return tag["content"].strip()
    return None


def strip_site_name(title: str, site: str | None) -> str:
    """ "Headline | Site" -> "Headline": drops trailing parts naming the site, or short ones, never the first."""
    while separators := list(TITLE_SEPARATORS.finditer(title)):
        last = title[separators[-1].end() :].strip().lower()
        names_site = bool(site) and (last == site.lower() or last in site.lower() or site.lower() in last)
        if not names_site and len(last.split()) > 3:
            break
        # Only the last part goes: a headline may hold a separator of its own ("A – B – Site").
        title = title[: separators[-1].start()]
    return title


def extract_main_text(html: str) -> str:
    """The article body as paragraphs, by trafilatura, from the page without any media elements."""
    try:
        tree = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return ""
    etree.strip_elements(tree, *MEDIA_TAGS, with_tail=False)
    text = trafilatura.extract(
        tree,
        output_format="txt",
        include_comments=False,
        include_images=False,
        include_tables=True,
        include_links=False,
    )
    return text or ""


def extract_html_article(html: str, origin: str, url: str | None = None) -> Article:
    # lxml refuses a str that declares its encoding, and bs4 warns: XHTML pages start with one.
    html = _XML_DECLARATION.sub("", html, count=1)
    soup = BeautifulSoup(html, "lxml")
    ld = _json_ld_articles(soup)
    first = ld[0] if ld else {}
    publisher = first.get("publisher")
    site = _meta(soup, "og:site_name", "application-name") or (
        publisher.get("name") if isinstance(publisher, dict) else None
    )
    canonical_tag = soup.find("link", rel=lambda v: v and "canonical" in v)
    candidates = [canonical_tag.get("href") if canonical_tag else None, _meta(soup, "og:url"), first.get("url"), url]
    # A canonical link may be relative to the page; one that is no web address gives way to the next.
    canonical = next(
        (clean for c in candidates if isinstance(c, str) and (clean := clean_url(urljoin(url or "", c.strip())))), None
    )
    if not site and canonical:
        site = urlsplit(canonical).netloc.removeprefix("www.")

    h1 = soup.find("h1")
    page_title = soup.title.get_text(" ", strip=True) if soup.title else None
    title = (
        first.get("headline")
        or _meta(soup, "og:title", "twitter:title")
        or (h1.get_text(" ", strip=True) if h1 else None)
        or page_title
    )
    title = strip_site_name(normalize_line(str(title)) or "", site) if title else None

    authors = _names(first.get("author")) or [
        a for a in [_meta(soup, "author", "article:author", "byl")] if a and not a.startswith("http")
    ]
    author = (
        ", ".join(dict.fromkeys(normalize_line(a.removeprefix("By ").removeprefix("by ")) for a in authors)) or None
    )

    time_tag = soup.find("time", attrs={"datetime": True})
    date = (
        iso_date(first.get("datePublished"))
        or iso_date(
            _meta(soup, "article:published_time", "datePublished", "pubdate", "publish-date", "date", "dc.date")
        )
        or iso_date(time_tag["datetime"] if time_tag else None)
    )
    html_tag = soup.find("html")
    lang = html_tag.get("lang") if html_tag else None
    language = first.get("inLanguage") if isinstance(first.get("inLanguage"), str) else lang
    language = language.split("-")[0].lower() if language else None

    body = normalize_text(extract_main_text(html))
    ld_body = normalize_text(str(first.get("articleBody") or ""))
    # JSON-LD articleBody is the publisher's own text: use it when the extractor found clearly less, or the
    # same words without their paragraphs (trafilatura's own fallback to articleBody joins them into one).
    words, ld_words = len(body.split()), len(ld_body.split())
    if ld_words > 1.2 * words or (ld_words >= words and len(split_paragraphs(ld_body)) > len(split_paragraphs(body))):
        body = ld_body
    paragraphs = split_paragraphs(body)
    while title and paragraphs and normalize_line(paragraphs[0]) == title:  # a page may repeat its headline
        paragraphs = paragraphs[1:]
    body = "\n\n".join(paragraphs)
    if len(body.split()) < MIN_BODY_WORDS:
        raise ExtractionError(f"{origin} has no article text that could be extracted.")
    if not title:
        from .text import derive_title

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

"""HTML fragments (feed entry content, imported records, rendered Markdown) as plain paragraphs, media dropped."""

from __future__ import annotations

from bs4 import BeautifulSoup

from .clean import normalize_text, strip_control_characters

# Media never enters the archive: these elements go, with everything inside them.
MEDIA_TAGS = (
    "img",
    "picture",
    "source",
    "video",
    "audio",
    "track",
    "iframe",
    "svg",
    "figcaption",
    "object",
    "embed",
    "canvas",
    "map",
    "noscript",
)
# A <figure> left holding one of these is text set apart (a table, a pull quote); any other figure is media.
FIGURE_TEXT_TAGS = ("table", "blockquote", "pre", "ul", "ol", "dl")
CODE_TAGS = ("script", "style", "template", "form", "button", "select", "textarea", "head")
BLOCK_TAGS = (
    "p",
    "div",
    "section",
    "article",
    "li",
    "dt",
    "dd",
    "tr",
    "blockquote",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "ul",
    "ol",
    "hr",
)


def fragment_text(fragment: str) -> str:
    """Text of an HTML fragment: one paragraph per block element, line breaks kept, media and code dropped."""
    if not fragment or not fragment.strip():
        return ""
    soup = BeautifulSoup(f"<div>{strip_control_characters(fragment)}</div>", "lxml")
    for tag in soup.find_all([*MEDIA_TAGS, *CODE_TAGS]):
        tag.decompose()
    for figure in soup.find_all("figure"):
        if not figure.find(FIGURE_TEXT_TAGS):
            figure.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(BLOCK_TAGS):
        block.insert_before("\n\n")
        block.insert_after("\n\n")
    return normalize_text(soup.get_text())

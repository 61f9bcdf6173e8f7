"""Limits on hostile input that the extractors would otherwise pay for: HTML nested deeper than any
real page, and an extraction that runs past its time budget. Each refusal is an ExtractionError with
a sentence for the user. (Size caps, gzip output and feed entries are limited where they are read.)"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from lxml import etree

from archive.errors import ExtractionError

MAX_HTML_DEPTH = 200  # real pages nest well under 100 elements; 100,000 nested <div>s took 31 s to extract


def check_html_depth(html: str, origin: str, limit: int = MAX_HTML_DEPTH) -> None:
    """Refuse a page nested deeper than `limit` elements, found with lxml's pull parser before any
    extractor builds a tree (the parser stops at the first element too deep)."""
    parser = etree.HTMLPullParser(events=("start", "end"))
    depth = 0
    for start in range(0, len(html), 65536):
        parser.feed(html[start : start + 65536])
        for event, _ in parser.read_events():
            depth += 1 if event == "start" else -1
            if depth > limit:
                raise ExtractionError(f"{origin} nests its HTML more than {limit} elements deep; it was not read.")


@contextmanager
def time_budget(seconds: float, origin: str) -> Iterator[None]:
    """Stop the work inside after `seconds` with an ExtractionError. Python can interrupt only its main
    thread, so elsewhere (the web app's request threads, whose uploads are size-capped) this does nothing."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise _Expired

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Expired:
        raise ExtractionError(f"{origin} took longer than {seconds:g} s to extract; it was not read.") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Expired(BaseException):
    """Raised by the timer; a BaseException so that no extractor's `except Exception` swallows it."""

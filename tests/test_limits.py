"""Limits on hostile input: nesting depth and the time budget, each a clear refusal."""

import threading
import time

import pytest

from archive.errors import ExtractionError
from ingest.limits import check_html_depth, time_budget
from ingest.pipeline import extract_article
from ingest.sources import RawDocument


def nested(depth: int) -> str:
    return "<html><body>" + "<div>" * depth + "<p>Deep text.</p>" + "</div>" * depth + "</body></html>"


def test_a_page_nested_too_deep_is_refused_before_extraction():
    with pytest.raises(ExtractionError, match="nests its HTML more than 200 elements deep"):
        extract_article(RawDocument(origin="deep.html", data=nested(100_000).encode(), kind="html"))


def test_ordinary_nesting_passes():
    check_html_depth(nested(150), "ok.html")
    with pytest.raises(ExtractionError):
        check_html_depth(nested(150), "ok.html", limit=100)


def test_the_time_budget_stops_slow_work_in_the_main_thread():
    with pytest.raises(ExtractionError, match="slow.html took longer than 0.2 s to extract"):
        with time_budget(0.2, "slow.html"):
            while True:
                sum(range(1000))
    with time_budget(5, "fast.html"):
        pass  # the timer is cleared: nothing fires later
    time.sleep(0.3)


def test_the_time_budget_does_nothing_outside_the_main_thread():
    finished = []

    def work():
        with time_budget(0.05, "thread.html"):
            time.sleep(0.2)
        finished.append(True)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert finished == [True]

"""The watched folder: files dropped into it are ingested once they stop changing, then moved to done/ or failed/.

Only files directly in the folder are read; sub-folders (done/ and failed/ among them) are left
alone, because a folder still being copied in cannot be told apart from a finished one. A file is
ready when its size and modification time have stayed the same for `settle` seconds: seen once
with a modification time at least that old, or seen unchanged at two looks that far apart.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from archive.errors import ArchiveError
from archive.models import IngestOutcome
from archive.service import Archive

from .pipeline import ingest_refs
from .sources import SourceRef

LOGGER = logging.getLogger(__name__)

DONE = "done"
FAILED = "failed"
REASON_SUFFIX = ".reason.txt"
# Names that browsers, editors and copy tools give a file while they are still writing it.
UNFINISHED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".swp", "~")


@dataclass
class WatchResult:
    """What became of one file: where it was moved (None when it could not be), its articles' outcomes and errors."""

    file: str
    moved_to: Path | None
    added: int = 0
    updated: int = 0
    duplicate: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """ "done" or "failed" after the folder it went to, "kept" when it is still in the watched folder."""
        return self.moved_to.parent.name if self.moved_to is not None else "kept"


def prepare_folder(folder: Path) -> None:
    """Check that `folder` is a folder and create its done/ and failed/; ArchiveError when it cannot be watched."""
    if not folder.exists():
        raise ArchiveError(f"{folder} does not exist.")
    if not folder.is_dir():
        raise ArchiveError(f"{folder} is not a folder.")
    try:
        for name in (DONE, FAILED):
            (folder / name).mkdir(exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"{folder} cannot be watched: {exc.strerror or exc}.") from None


def is_unfinished(name: str) -> bool:
    """A hidden file, or one a program is still writing under a temporary name."""
    return name.startswith(".") or name.lower().endswith(UNFINISHED_SUFFIXES)


class Watcher:
    """Ingests the ready files of one folder into `archive`; remembers between scans what it has seen."""

    def __init__(self, archive: Archive, folder: Path, settle: float = 2.0, clock: Callable[[], float] = time.time):
        prepare_folder(folder)
        self.archive = archive
        self.folder = folder
        self.settle = settle
        self.clock = clock
        self._seen: dict[str, tuple[int, int, float]] = {}  # name -> (size, mtime_ns, first seen so)
        self._held: dict[str, tuple[int, int]] = {}  # ingested but not movable: skipped until they change

    def ready_files(self, now: float | None = None) -> list[Path]:
        """The files that have stopped changing, in name order; remembers the others for the next look."""
        now = self.clock() if now is None else now
        ready: list[Path] = []
        present: set[str] = set()
        for entry in self._entries():
            try:
                if is_unfinished(entry.name) or not entry.is_file():
                    continue
                stat = entry.stat()
            except FileNotFoundError:  # gone since the folder was listed
                continue
            present.add(entry.name)
            signature = (stat.st_size, stat.st_mtime_ns)
            if self._held.get(entry.name) == signature:
                continue
            self._held.pop(entry.name, None)
            known = self._seen.get(entry.name)
            if known is None or known[:2] != signature:
                self._seen[entry.name] = (*signature, now)
                # Changed since the last look means still being written; a first look trusts an old mtime.
                settled = known is None and now - stat.st_mtime_ns / 1e9 >= self.settle
            else:
                settled = now - known[2] >= self.settle
            if settled:
                ready.append(Path(entry.path))
        for name in set(self._seen) - present:
            del self._seen[name]
        for name in set(self._held) - present:
            del self._held[name]
        return sorted(ready)

    def scan(self, now: float | None = None) -> Iterator[WatchResult]:
        """Ingest each ready file and move it away, yielding its result as soon as it is done."""
        for path in self.ready_files(now):
            result = self.ingest_file(path)
            if result is not None:
                yield result

    def scan_once(self, now: float | None = None) -> list[WatchResult]:
        """`scan`, all of it."""
        return list(self.scan(now))

    def run(
        self,
        stop: threading.Event,
        interval: float = 5.0,
        report: Callable[[WatchResult], None] | None = None,
    ) -> None:
        """Scan every `interval` seconds until `stop` is set, handing each result to `report`."""
        while not stop.is_set():
            for result in self.scan():
                if report is not None:
                    report(result)
                if stop.is_set():
                    return
            stop.wait(interval)

    def ingest_file(self, path: Path) -> WatchResult | None:
        """Ingest one file and move it to done/ or failed/, a reason file beside it when something failed.

        None when the archive itself failed (not the file): the file stays and is tried again next scan.
        """
        try:
            with self.archive.batch():  # one index commit for all the articles of a feed
                outcomes = list(ingest_refs(self.archive, [SourceRef(origin=str(path), path=path)]))
        except Exception:
            LOGGER.exception("could not ingest %s; it stays in %s and is tried again", path.name, self.folder)
            return None
        result = summarize(path.name, outcomes)
        if not outcomes:
            result.errors.append(f"{path} holds no article.")
        ok = result.added + result.updated + result.duplicate
        result.moved_to = self._move(path, DONE if ok else FAILED, result.errors)
        return result

    def _entries(self) -> list[os.DirEntry]:
        try:
            with os.scandir(self.folder) as entries:
                return list(entries)
        except OSError as exc:
            raise ArchiveError(f"{self.folder} cannot be read any more: {exc.strerror or exc}.") from None

    def _move(self, path: Path, to: str, errors: list[str]) -> Path | None:
        """`path` moved into the `to` folder under a free name, with the errors in a reason file; None when it
        cannot be moved (then it is left alone until it changes, rather than ingested again and again)."""
        target_dir = self.folder / to
        try:
            target_dir.mkdir(exist_ok=True)  # someone may have removed it while we watched
            target = free_name(target_dir, path.name)
            os.replace(path, target)
        except OSError as exc:
            try:
                stat = path.stat()
                self._held[path.name] = (stat.st_size, stat.st_mtime_ns)
            except OSError:  # gone: nothing to hold back
                pass
            errors.append(f"{path} was read but could not be moved to {to}/: {exc.strerror or exc}.")
            LOGGER.error("%s", errors[-1])
            return None
        finally:
            self._seen.pop(path.name, None)
        if errors:
            reason = target.with_name(target.name + REASON_SUFFIX)
            try:
                reason.write_text("".join(f"{line}\n" for line in errors), encoding="utf-8")
            except OSError as exc:
                LOGGER.error("could not write %s: %s", reason, exc.strerror or exc)
        return target


def summarize(name: str, outcomes: list[IngestOutcome]) -> WatchResult:
    """The counts per status and the failures' reasons of one file's outcomes."""
    counts = Counter(outcome.status for outcome in outcomes)
    errors = [outcome.error or f"{outcome.source} failed." for outcome in outcomes if outcome.status == "failed"]
    return WatchResult(
        file=name,
        moved_to=None,
        added=counts["added"],
        updated=counts["updated"],
        duplicate=counts["duplicate"],
        failed=counts["failed"],
        errors=errors,
    )


def free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/name (2).ext` and so on when that or its reason file is taken."""
    stem, ext = split_name(name)
    candidate, number = name, 1
    while (folder / candidate).exists() or (folder / (candidate + REASON_SUFFIX)).exists():
        number += 1
        candidate = f"{stem} ({number}){ext}"
    return folder / candidate


def split_name(name: str) -> tuple[str, str]:
    """A file name as (stem, extension), the extension keeping ".gz" with the format before it: "feed.xml.gz"."""
    ext = Path(name).suffix
    if ext.lower() == ".gz":
        ext = Path(name[: -len(ext)]).suffix + ext
    if ext == name:  # "" or a name that is all extension
        return name, ""
    return name[: len(name) - len(ext)], ext


def watch(
    archive: Archive,
    folder: Path,
    interval: float = 5.0,
    settle: float = 2.0,
    stop: threading.Event | None = None,
    report: Callable[[WatchResult], None] | None = None,
) -> None:
    """Watch `folder` until `stop` is set (for ever without one), ingesting each file once it is ready."""
    Watcher(archive, folder, settle=settle).run(stop or threading.Event(), interval=interval, report=report)

"""The index's folders on disk: generations behind one link, swapped in one rename, and the index
log position each one holds."""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path

LOGGER = logging.getLogger(__name__)

SEQ_FILE = "applied-seq"  # in a generation: the index log seq it holds every change up to


def current_folder(path: Path) -> Path:
    """The folder the index path leads to: the generation its link names, or the path itself when it
    is a plain folder (as versions before generations made it). FileNotFoundError when it is neither."""
    try:
        return path.parent / os.readlink(path)
    except FileNotFoundError:
        raise
    except OSError:  # not a link
        return path


def new_folder(path: Path) -> Path:
    """A new, empty generation folder beside the index path: `index-<n>`, n above any there."""
    number = _highest(path) + 1
    while True:
        folder = path.with_name(f"{path.name}-{number}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:  # another process took this number
            number += 1


def point(path: Path, folder: Path) -> Path | None:
    """Make the index path a link to the generation `folder` in one rename, so that a process opening
    the index finds the old generation or the new one, never none.

    A plain folder at the path (made before generations) is first renamed to a generation folder of
    its own: the one moment without an index, once. Returns where it went, else None.
    """
    moved = None
    if path.is_dir() and not path.is_symlink():
        moved = new_folder(path)
        os.rename(path, moved)  # onto the new empty folder, which rename replaces
    link = path.with_name(f".{path.name}.link-{os.getpid()}-{threading.get_ident()}")
    link.unlink(missing_ok=True)
    os.symlink(folder.name, link)
    os.replace(link, path)
    return moved


def older_folders(path: Path, current: Path) -> list[Path]:
    """Generation folders numbered below `current`: swapped out, or left by a process killed midway."""
    number = _number(path, current)
    if number is None:
        return []
    return [p for p in path.parent.glob(f"{path.name}-*") if (_number(path, p) or number) < number and p.is_dir()]


def read_seq(folder: Path) -> int:
    """The index log seq the index in `folder` holds every change up to; 0 when none is recorded."""
    try:
        return int((folder / SEQ_FILE).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def write_seq(folder: Path, seq: int) -> None:
    """Record `seq` in one rename: a reader sees the old number or the new one, never a torn one."""
    temp = folder / f".{SEQ_FILE}.{os.getpid()}.{threading.get_ident()}"
    temp.write_text(str(seq))
    os.replace(temp, folder / SEQ_FILE)


def advance_seq(folder: Path, seq: int) -> None:
    """Record `seq` after a commit that applied the log up to it, unless a higher seq is recorded.

    A lower seq than what the index holds is harmless (the replay writes articles as they are now, so
    it can run twice), a higher one would skip changes: the number is only written after the commit.
    A generation swapped out and removed since the commit needs no record.
    """
    if seq <= read_seq(folder):
        return
    try:
        write_seq(folder, seq)
    except FileNotFoundError:
        LOGGER.debug("index generation %s was removed before its log position was recorded", folder)


def _highest(path: Path) -> int:
    """The highest generation number there, or named by the link: a number is never used twice, so a
    process that opened a generation can tell it from whatever is swapped in later."""
    names = [p.name for p in path.parent.glob(f"{path.name}-*")]
    if path.is_symlink():
        names.append(os.readlink(path))
    return max((_number(path, Path(name)) or 0 for name in names), default=0)


def _number(path: Path, folder: Path) -> int | None:
    match = re.fullmatch(rf"{re.escape(path.name)}-(\d+)", folder.name)
    return int(match.group(1)) if match else None

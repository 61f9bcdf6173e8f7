"""What every `archive` command shares: the context that opens the archive once, one-line failures,
JSON lines on stdout and progress bars on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import click

from .config import load_config
from .errors import ArchiveError
from .service import Archive

PROGRESS_MIN_INPUTS = 4  # fewer inputs than this finish before a progress bar is worth drawing


class Failure(click.ClickException):
    """One sentence on stderr and a non-zero exit, for errors a user can cause."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"archive: error: {self.format_message()}", err=True)


@contextmanager
def failing(exit_code: int = 1) -> Iterator[None]:
    """An ArchiveError raised inside becomes one line on stderr and `exit_code`."""
    try:
        yield
    except ArchiveError as exc:
        raise Failure(str(exc), exit_code) from None


def emit(obj: dict) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


def progress(total: int, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit="input",
        file=sys.stderr,
        leave=False,
        disable=not (enabled and total >= PROGRESS_MIN_INPUTS and sys.stderr.isatty()),
    )


class Context:
    def __init__(self, data_dir: Path | None) -> None:
        self.data_dir = data_dir
        self._archive: Archive | None = None

    @cached_property
    def config(self):
        """The settings, read once per command."""
        try:
            return load_config(self.data_dir)
        except ArchiveError as exc:
            raise Failure(str(exc), 2) from None

    def archive(self, replay: bool = True) -> Archive:
        """The archive, opened on first use; `replay` as in Archive (the first call decides)."""
        if self._archive is None:
            try:
                self._archive = Archive(config=self.config, replay=replay)
            except ArchiveError as exc:
                raise Failure(str(exc)) from None
        return self._archive

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()


pass_ctx = click.make_pass_decorator(Context)

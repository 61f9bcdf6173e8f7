"""`archive watch`: ingest the files dropped into a folder, moving each to done/ or failed/."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .cli_support import Context, emit, failing, pass_ctx

if TYPE_CHECKING:
    from ingest.watch import WatchResult


def _counts(result: WatchResult) -> str:
    statuses = ("added", "updated", "duplicate", "failed")
    return ", ".join(f"{getattr(result, s)} {s}" for s in statuses if getattr(result, s)) or "no article"


def _report(result: WatchResult, as_json: bool) -> None:
    if as_json:
        emit(
            {
                "file": result.file,
                "moved_to": str(result.moved_to) if result.moved_to else None,
                "added": result.added,
                "updated": result.updated,
                "duplicate": result.duplicate,
                "failed": result.failed,
                "errors": result.errors,
            }
        )
        return
    renamed = f" as {result.moved_to.name}" if result.moved_to and result.moved_to.name != result.file else ""
    if result.status == "done":
        extra = f"; reasons in {result.moved_to.name}.reason.txt" if result.errors else ""
        click.echo(f"done: {result.file}{renamed} ({_counts(result)}{extra})")
    else:
        more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
        click.echo(f"{result.status}: {result.file}{renamed}: {result.errors[0]}{more}", err=True)


def _stop_on_sigterm(stop: threading.Event):
    """Make SIGTERM (systemd, kill) set `stop`; returns the handler it replaced."""

    def handle(signum, frame):
        # Set from another thread: the signal may arrive while this thread holds the event's lock.
        threading.Thread(target=stop.set, daemon=True).start()

    return signal.signal(signal.SIGTERM, handle)


@click.command()
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Time between two looks at the folder.",
)
@click.option(
    "--settle",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="How long a file must stay unchanged before it is read.",
)
@click.option("--once", is_flag=True, help="Look once and exit (cron): files whose mtime is older than --settle.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per processed file on stdout.")
@click.argument("directory", type=click.Path(path_type=Path))
@pass_ctx
def watch(ctx: Context, directory: Path, interval: float, settle: float, once: bool, as_json: bool) -> None:
    """Ingest each file dropped into DIRECTORY once it stops changing; move it to DIRECTORY/done/, or to
    DIRECTORY/failed/ with a .reason.txt file. Exit 1 when --once met a file with a failed article."""
    from ingest.watch import Watcher, prepare_folder

    with failing(2):
        prepare_folder(directory)  # before the archive is opened: a wrong folder changes nothing
    archive = ctx.archive()
    with failing():
        watcher = Watcher(archive, directory, settle=settle)
        if once:
            failed = False
            for result in watcher.scan():
                failed = failed or bool(result.failed or result.status != "done")
                _report(result, as_json)
            sys.exit(1 if failed else 0)
        stop = threading.Event()
        previous = _stop_on_sigterm(stop)
        click.echo(f"archive: watching {directory} every {interval:g} s (Ctrl-C stops)", err=True)
        try:
            watcher.run(stop, interval=interval, report=lambda result: _report(result, as_json))
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)

"""Worker processes for work spread over the cores (extraction, building index segments)."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1  # Linux prctl(2): a signal the process gets when its parent dies


def worker_pool(procs: int) -> ProcessPoolExecutor:
    """`procs` processes started afresh (no fork of a process that may hold threads and locks), each
    dying with this process and writing nothing to its standard output."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(procs, mp_context=context, initializer=_worker_start, initargs=(os.getpid(),))


def _worker_start(parent: int) -> None:
    """In each worker: die with the parent, so that a command killed midway leaves no workers behind
    holding its output open; and write nothing to standard output."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)

"""A worker process dies with the supervisor that started it.

``chunkup serve --workers N`` is uvicorn's supervisor with N worker processes
sharing one listening socket. When the supervisor is killed outright (SIGKILL,
the OOM killer, a crash) nothing tells the workers: they would go on serving
on the port, unsupervised, and a restart could not bind it.

On Linux the kernel does the telling: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` kills
the worker the moment its parent exits. SIGKILL, not SIGTERM, because a graceful
drain takes up to ``timeout_graceful_shutdown`` seconds while holding the port,
and because a worker stopped this way is no different from a crashed server,
which the upload contract already tolerates (chunks are recorded in one short
transaction; a chunk cut off is sent again). A supervisor stopped with SIGTERM
or Ctrl-C still drains its workers gracefully first, as uvicorn does.

Elsewhere (no ``prctl``) a daemon thread watches the parent id and exits the
process when it changes. The same check runs once right after ``prctl``: a
supervisor that died before the worker got that far is caught too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import time

SUPERVISOR_PID_VARIABLE = "CHUNKUP_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_INTERVAL = 0.25  # seconds between parent checks where prctl is missing

logger = logging.getLogger("chunkup.supervision")


def mark_supervisor() -> None:
    """Called by the supervisor before it starts workers: they inherit its pid."""
    os.environ[SUPERVISOR_PID_VARIABLE] = str(os.getpid())


def die_with_supervisor() -> None:
    """Called in a worker at start-up: exit as soon as the supervisor is gone."""
    expected = os.environ.get(SUPERVISOR_PID_VARIABLE)
    if expected is None or not expected.isdigit():
        return  # not started by `chunkup serve --workers N`
    die_with_parent(int(expected))


def die_with_parent(parent: int) -> None:
    """Exit as soon as ``parent`` (this process's parent when it started) is gone.

    The kernel's death signal follows the *thread* that started this process:
    right for uvicorn's workers, started by the supervisor's main thread, wrong
    for a helper process started from a thread pool. Those use
    :func:`watch_parent`.
    """
    if not _set_parent_death_signal():
        watch_parent(parent)
    if os.getppid() != parent:  # it died before the signal was armed
        _exit_orphaned(parent)


def watch_parent(parent: int) -> None:
    """Exit within ``WATCH_INTERVAL`` of ``parent`` going away (a thread that polls)."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _set_parent_death_signal() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        logger.warning("prctl(PR_SET_PDEATHSIG) failed (%s); watching the parent instead", errno)
        return False
    return True


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    _exit_orphaned(parent)


def _exit_orphaned(parent: int) -> None:
    logger.error("parent %d is gone: process %d exits", parent, os.getpid())
    os._exit(1)

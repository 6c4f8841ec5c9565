"""A serving process's memory settings: glibc's allocator, the frozen start-up objects."""

from __future__ import annotations

import os
import subprocess
import sys

from chunkup.memory import tune_malloc


def test_allocator_settings_apply_on_glibc() -> None:
    assert tune_malloc() is (os.confstr("CS_GNU_LIBC_VERSION") is not None)


def test_start_up_objects_are_frozen_and_later_cycles_still_collected() -> None:
    script = (
        "import gc; from chunkup.api.app import create_app; create_app()\n"
        "from chunkup.memory import freeze_startup_objects; freeze_startup_objects()\n"
        "frozen = gc.get_freeze_count()\n"
        "class Cycle: pass\n"
        "a = Cycle(); a.me = a; del a\n"
        "print(frozen, gc.collect())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    frozen, collected = int(out[0]), int(out[1])
    assert frozen > 10_000  # the modules and the app are out of the collector's way
    assert collected >= 1  # a cycle made afterwards is still freed

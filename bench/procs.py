"""A server's whole process tree from /proc: CPU time (utime+stime) and peak RSS.

Used by the orchestrator (peak-RSS reset, tree listing) and by the load
process (CPU snapshots at phase boundaries), so it imports nothing but the
standard library.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    return raw[raw.rfind(")") + 2 :].split()


def tree(root: int) -> list[int]:
    """``root`` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        if fields is None:
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [root]
    while todo and len(found) < 10_000:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_times(root: int, pids: list[int] | None = None) -> tuple[float, float]:
    """(user, system) seconds of the tree (or of ``pids``), with the root's reaped children."""
    user = system = 0
    for pid in pids if pids is not None else tree(root):
        fields = _stat_fields(pid)
        if fields is None:
            continue
        # after the ')' the fields start at "state" (field 3): utime is field 14, stime 15,
        # cutime 16, cstime 17 -> indexes 11..14 here
        user += int(fields[11])
        system += int(fields[12])
        if pid == root:
            user += int(fields[13])
            system += int(fields[14])
    return user / CLOCK_TICKS, system / CLOCK_TICKS


def matching(substring: str) -> list[int]:
    """Live processes whose command line holds ``substring`` (e.g. the backends of one
    PostgreSQL database: their title is ``postgres: USER DATABASE ...``)."""
    found = []
    needle = substring.encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                if needle in handle.read():
                    found.append(int(name))
        except OSError:
            continue
    return found


def cpu_seconds(root: int) -> float:
    """utime+stime of the live tree, plus the root's reaped children (cutime+cstime)."""
    return sum(cpu_times(root))


def _status_kb(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Memory:
    hwm_max_mb: float
    hwm_sum_mb: float
    rss_sum_mb: float
    processes: int

    def as_dict(self) -> dict[str, float]:
        return {
            "peak_rss_max_mb": round(self.hwm_max_mb, 1),
            "peak_rss_sum_mb": round(self.hwm_sum_mb, 1),
            "rss_sum_mb": round(self.rss_sum_mb, 1),
            "processes": self.processes,
        }


def memory(root: int) -> Memory:
    """VmHWM (peak RSS) of each process of the tree: the largest and the sum."""
    hwms, rss = [], []
    for pid in tree(root):
        hwm = _status_kb(pid, "VmHWM")
        if hwm is not None:
            hwms.append(hwm / 1024)
            rss.append((_status_kb(pid, "VmRSS") or 0) / 1024)
    return Memory(max(hwms, default=0.0), sum(hwms), sum(rss), len(hwms))


def reset_peak_rss(root: int) -> bool:
    """Reset VmHWM of every process of the tree (``5`` > clear_refs, Linux 4.0+)."""
    ok = True
    for pid in tree(root):
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as handle:
                handle.write("5")
        except OSError:
            ok = False
    return ok


def machine_busy_seconds() -> float:
    """CPU time all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    try:
        with open("/proc/stat") as handle:
            fields = handle.readline().split()[1:]
    except OSError:
        return 0.0
    ticks = [int(v) for v in fields]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    busy = sum(ticks[:8]) - ticks[3] - ticks[4]
    return busy / CLOCK_TICKS


def stop_recorder(recorder: subprocess.Popen) -> None:
    """Stop py-spy so that it writes its samples (SIGINT), killing it if it will not."""
    recorder.send_signal(signal.SIGINT)
    try:
        recorder.wait(timeout=30)
    except subprocess.TimeoutExpired:
        recorder.kill()
        recorder.wait(timeout=10)

"""CPU and memory figures of this machine's processes, from Linux's /proc.

Used by the benchmarks and by the appliance's status (ISAPI System/status);
elsewhere than Linux the figures read 0 (or this process's peak RSS).
"""
from __future__ import annotations

import os


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / (os.sysconf("SC_CLK_TCK") or 100)


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (Linux /proc/stat; 0 elsewhere)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / (os.sysconf("SC_CLK_TCK") or 100)


def _kb_field(path: str, name: str) -> float | None:
    """The "name: N kB" line of a /proc file, in MB; None when it cannot be read."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process (default this one) in MB (Linux /proc; this
    process's ru_maxrss elsewhere)."""
    mb = _kb_field(f"/proc/{pid}/status", "VmRSS:")
    if mb is not None:
        return mb
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def pss_mb(pid: int | str = "self") -> float:
    """Proportional set size of a process in MB: its resident memory with each page
    shared with other processes (libraries, copy-on-write) counted in shares, so
    summed over processes it counts every page once (Linux /proc; RSS elsewhere)."""
    mb = _kb_field(f"/proc/{pid}/smaps_rollup", "Pss:")
    return mb if mb is not None else rss_mb(pid)

"""The JVM heap: as given, or ``auto`` from the container's memory limit.

``auto`` takes half of the memory limit (rounded down to whole MiB, at least 64M), leaving the
other half for what the JVM keeps off the heap (metaspace, thread stacks, direct buffers) and
for the page cache that ZooKeeper's transaction log leans on.  The limit is read from cgroup v2
``memory.max``, else cgroup v1 ``memory.limit_in_bytes``, else the machine's total memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

AUTO_FRACTION = 0.5
AUTO_MIN_MIB = 64
# cgroup v1 reports "no limit" as a huge page-aligned number.
V1_UNLIMITED = 1 << 60


@dataclass(frozen=True, slots=True)
class Heap:
    size: str  # JVM syntax, e.g. "512M"
    note: str  # how it was chosen, for the progress line


def memory_limit(
    cgroup_root: Path = Path("/sys/fs/cgroup"), proc_self: Path = Path("/proc/self/cgroup")
) -> tuple[int, str] | None:
    """The cgroup memory limit in bytes and the file it came from, or None when unlimited."""
    for path in _v2_candidates(cgroup_root, proc_self):
        text = _read(path)
        if text is None:
            continue
        if text == "max":
            return None
        if text.isdigit():
            return int(text), str(path)
    v1 = cgroup_root / "memory" / "memory.limit_in_bytes"
    text = _read(v1)
    if text is not None and text.isdigit() and int(text) < V1_UNLIMITED:
        return int(text), str(v1)
    return None


def _v2_candidates(cgroup_root: Path, proc_self: Path) -> list[Path]:
    found = []
    membership = _read(proc_self) or ""
    for line in membership.splitlines():
        if line.startswith("0::"):
            relative = line[3:].strip().lstrip("/")
            if relative:
                found.append(cgroup_root / relative / "memory.max")
    found.append(cgroup_root / "memory.max")
    return found


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def resolve(
    setting: str, cgroup_root: Path = Path("/sys/fs/cgroup"), proc_self: Path = Path("/proc/self/cgroup")
) -> Heap:
    if setting != "auto":
        return Heap(setting, "as set")
    limit = memory_limit(cgroup_root, proc_self)
    if limit is not None:
        total, where = limit
    else:
        import psutil  # only a heap of auto without a cgroup limit reads the machine's memory

        total, where = psutil.virtual_memory().total, "total memory (no cgroup limit)"
    mib = max(AUTO_MIN_MIB, int(total * AUTO_FRACTION) >> 20)
    return Heap(f"{mib}M", f"auto: {int(AUTO_FRACTION * 100)}% of {total >> 20} MiB from {where}")

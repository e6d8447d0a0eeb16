"""Peak resident memory of processes, sampled from /proc (VmHWM is the kernel's own high-water mark)."""
from pathlib import Path


def peak_rss_mb(pid: int) -> float | None:
    """The peak RSS (VmHWM) of process ``pid`` in MB, or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    """Ids of the direct children of ``pid`` (RQ's work horses)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]

"""Where a send's CPU goes on this machine: every process's and the kernel's share, from /proc.

``CpuMeter.start()`` and ``.stop(messages)`` bracket a send; the result is the CPU it cost per
message (µs, all cores together) by kind of process — the sending clients (Herald's workers or
the baseline's processes), PostgreSQL, Redis, the SMTP sink, anything else — and the machine's
busy time (``total``) and idle cores over the window. A process's figure is its own ``utime +
stime`` (all its threads, ``/proc/<pid>/stat``), which includes the kernel's work done while it
ran: loopback TCP's receive path mostly runs as a softirq in the sender's context, so it counts to
whoever sent. ``softirq`` is the part of ``total`` the kernel accounted to interrupt work, shown
for information (it is inside the processes' figures where it ran in their context, so the kinds
add up to about ``total`` without it). Processes that exit inside the window are counted through
``extra`` (the caller's ``RUSAGE_CHILDREN`` difference, say).
"""
import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
KINDS = {"postgres": "postgresql", "redis-server": "redis", "smtp-sink": "sink"}


def _processes() -> dict:
    """{pid: (command name, start time, CPU seconds)} of every process now (a kernel worker's
    name changes with its work, so a process is known again by its pid and start time)."""
    seen = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        seen[int(entry.name)] = (name, fields[19], (int(fields[11]) + int(fields[12])) / TICK)
    return seen


def _machine() -> dict:
    """Seconds of all cores since boot by state (``/proc/stat``, first line)."""
    values = [int(v) / TICK for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = values
    return {"busy": user + nice + system + irq + softirq + steal, "idle": idle + iowait,
            "softirq": irq + softirq}


class CpuMeter:
    """CPU per message of one send, by kind of process (see the module docstring).

    ``clients``: a callable returning the pids of the sending processes (read at ``stop``, so
    processes started after ``start`` count from zero)."""

    def __init__(self, clients=lambda: ()):
        self.clients = clients
        self.before = self.machine = None

    def start(self) -> "CpuMeter":
        self.before, self.machine = _processes(), _machine()
        return self

    def stop(self, messages: int, seconds: float, extra: dict | None = None) -> dict:
        """The figures (µs per message; cores busy over ``seconds``); ``extra``: {kind: CPU
        seconds} measured by the caller (processes that exited inside the window)."""
        after, machine = _processes(), _machine()
        clients, own = set(self.clients()), os.getpid()
        spent = dict.fromkeys(("clients", "postgresql", "redis", "sink", "bench", "other"), 0.0)
        for pid, (name, started, cpu) in after.items():
            was = self.before.get(pid)
            used = cpu - (was[2] if was and was[1] == started else 0.0)
            if used <= 0:
                continue
            kind = "clients" if pid in clients else "bench" if pid == own else KINDS.get(name, "other")
            spent[kind] += used
        for kind, seconds_used in (extra or {}).items():
            spent[kind] += seconds_used
        busy = machine["busy"] - self.machine["busy"]
        spent["softirq"] = machine["softirq"] - self.machine["softirq"]
        figures = {kind: round(used / messages * 1e6, 1) for kind, used in spent.items()}
        figures["total"] = round(busy / messages * 1e6, 1)
        figures["cores_busy"] = round(busy / seconds, 2) if seconds else None
        figures["cores_idle"] = round((machine["idle"] - self.machine["idle"]) / seconds, 2) if seconds else None
        return figures

"""Baselines for the send rate: a bare pipelined Python loop and Postfix's C smtp-source, same sink.

The Python loop speaks to the sink the way Herald's transport (``app/mail/smtp_session.py``)
does: one connection per process, reused for every message, EHLO once, then per message one write
(PIPELINING, RFC 2920) carrying the previous message's content and ending dot and this message's
MAIL, RCPT and DATA, and one read of their replies: one round trip per message (until 2026-12-01
it sent the content in a write of its own, two round trips, while Herald already used one). It does
nothing else (no database, no Redis, no building: the same rendered bytes every time), so it is
the ceiling of a Python client.

``smtp-source`` (Postfix's test generator, written in C) sends the same message bytes over
reused connections (``-d``); it does not pipeline (four round trips per message), so it measures
what a client costing next to no CPU gets from the same sink.
"""
import multiprocessing
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import time

from .cpushare import CpuMeter

SENDER = "bench@herald.localhost"


def _children_cpu() -> tuple[float, float]:
    """(user, system) CPU seconds of this process's children that have been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime, usage.ru_stime


def _cpu_figures(before: tuple[float, float], messages: int, meter: CpuMeter, seconds: float) -> dict:
    """The client's CPU µs per message since ``before`` (the kernel's share is most of it), and
    the machine's by kind of process (``bench.cpushare``; the clients exited: counted from
    ``before``)."""
    user, system = (after - was for after, was in zip(_children_cpu(), before))
    return {"client_cpu_us_per_message": round((user + system) / messages * 1e6, 1),
            "client_user_us_per_message": round(user / messages * 1e6, 1),
            "cpu_us_per_message": meter.stop(messages, seconds, {"clients": user + system})}


def _reply(reader) -> int:
    """The code of one (possibly multi-line) SMTP reply."""
    while True:
        line = reader.readline()
        if not line:
            raise ConnectionError("the sink closed the connection")
        if line[3:4] != b"-":
            return int(line[:3])


def _expect(reader, *codes) -> None:
    for code in codes:
        got = _reply(reader)
        if got != code:
            raise RuntimeError(f"the sink answered {got}, expected {code}")


def _pipelined_loop(port: int, first: int, count: int, data: bytes, ready, go) -> None:
    """One process: connect, EHLO, wait for ``go``, send ``count`` messages pipelined, QUIT."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        reader = sock.makefile("rb")
        _expect(reader, 220)
        sock.sendall(b"EHLO bench.herald.localhost\r\n")
        extensions = []
        while True:
            line = reader.readline()
            extensions.append(line[4:].strip().upper())
            if line[3:4] != b"-":
                break
        if b"PIPELINING" not in extensions:
            raise RuntimeError("the sink does not offer PIPELINING")
        ready.set()
        go.wait()
        previous = b""  # the content of the message whose DATA was answered 354
        for n in range(first, first + count):
            envelope = f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<r{n}@example.com>\r\nDATA\r\n".encode()
            sock.sendall(previous + envelope)
            _expect(reader, *((250,) if previous else ()), 250, 250, 354)
            previous = data
        sock.sendall(previous)
        _expect(reader, 250)
        sock.sendall(b"QUIT\r\n")
        _reply(reader)


def _wire_bytes(payload: bytes) -> bytes:
    """The DATA content as Herald's transport sends it: dot-stuffed, CRLF-ended, then ``.``."""
    if payload.startswith(b".") or b"\n." in payload:
        payload = payload.replace(b"\n.", b"\n..")
        payload = b"." + payload if payload.startswith(b".") else payload
    return payload + (b"" if payload.endswith(b"\r\n") else b"\r\n") + b".\r\n"


def start_all(processes: list, readies: list) -> None:
    """Start ``processes`` and wait until each has set its event of ``readies`` (RuntimeError
    when one dies first)."""
    for process in processes:
        process.start()
    for ready, process in zip(readies, processes):
        while not ready.wait(0.1):
            if not process.is_alive():
                raise RuntimeError(f"{process.name} died before sending")


def pipelined_rate(port: int, total: int, payload: bytes, processes: int = 1) -> dict:
    """``processes`` bare pipelined loops (separate processes) sharing ``total`` messages.

    The clock starts once every process is connected and greeted and stops when the last one
    has its final 250, so process start-up is not counted (Herald's figure counts far more).
    """
    context = multiprocessing.get_context("fork")
    cpu = _children_cpu()
    data, share = _wire_bytes(payload), total // processes
    go = context.Event()
    readies = [context.Event() for _ in range(processes)]
    workers = [context.Process(target=_pipelined_loop, args=(port, i * share, share, data, ready, go))
               for i, ready in enumerate(readies)]
    start_all(workers, readies)
    meter = CpuMeter().start()
    started = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    if any(worker.exitcode for worker in workers):
        raise RuntimeError("a baseline process failed")
    sent = share * processes
    return {"processes": processes, "messages": sent, "seconds": round(seconds, 3),
            "messages_per_second": round(sent / seconds, 1), "round_trips_per_message": 1,
            **_cpu_figures(cpu, sent, meter, seconds)}


def smtp_source_path() -> str | None:
    """Postfix's smtp-source (Debian's postfix package, installed by ``make bench``), if any."""
    return shutil.which("smtp-source") or (os.path.exists("/usr/sbin/smtp-source") and "/usr/sbin/smtp-source") or None


def smtp_source_rate(port: int, total: int, payload: bytes, sessions: int = 2) -> dict | None:
    """Postfix's smtp-source: ``total`` messages of the same bytes over ``sessions`` reused
    connections; None when it is not installed. Timed from its start to its exit."""
    binary = smtp_source_path()
    if binary is None:
        return None
    # -F reads lines and ends each with CRLF (dot-stuffing them), so give it LF line ends: the
    # bytes on the wire are then those of ``payload``.
    with tempfile.NamedTemporaryFile("wb", suffix=".eml") as message:
        message.write(payload.replace(b"\r\n", b"\n"))
        message.flush()
        command = [binary, "-d", "-s", str(sessions), "-m", str(total), "-F", message.name,
                   "-f", SENDER, "-t", "r@example.com", "-N", f"127.0.0.1:{port}"]
        meter = CpuMeter().start()
        started, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=3600)
        seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"smtp-source failed: {done.stderr.decode(errors='replace').strip()}")
    return {"sessions": sessions, "messages": total, "seconds": round(seconds, 3),
            "messages_per_second": round(total / seconds, 1), "round_trips_per_message": 4,
            **_cpu_figures(cpu, total, meter, seconds)}

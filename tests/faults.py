"""Fault injection for the self-healing tests, on real services only: a TCP proxy in front of
PostgreSQL that a test cuts and restores, a SQLite write lock held as long as an outage, a private
redis-server restarted empty, and worker processes to SIGKILL.

Durations come from the environment so the tests stay short while the same code measures long
outages: ``HERALD_FAULT_OUTAGE_SECONDS`` (8), ``HERALD_FAULT_LEASE_SECONDS`` (5),
``HERALD_FAULT_SUPERVISOR_SECONDS`` (1, the workers' supervisor period). With
``HERALD_FAULT_REPORT=<file>`` each test appends what it measured as one JSON line.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

ROOT = Path(__file__).resolve().parents[1]
OUTAGE_SECONDS = float(os.environ.get("HERALD_FAULT_OUTAGE_SECONDS", "8"))
LEASE_SECONDS = int(os.environ.get("HERALD_FAULT_LEASE_SECONDS", "5"))
SUPERVISOR_SECONDS = int(os.environ.get("HERALD_FAULT_SUPERVISOR_SECONDS", "1"))


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def report(name: str, **figures) -> None:
    """Append the figures a test measured to ``HERALD_FAULT_REPORT`` (when set)."""
    path = os.environ.get("HERALD_FAULT_REPORT")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps({"test": name, **figures}) + "\n")


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate()`` until it returns something true; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target``; ``cut()`` drops every connection and refuses new
    ones (the database is unreachable), ``restore()`` accepts again on the same port."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener = None
        self._pairs: list = []
        self._lock = threading.Lock()

    def start(self) -> "TcpProxy":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """Close the listener and every forwarded connection."""
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def restore(self) -> None:
        """Accept connections again."""
        self.start()

    def url(self, database_url: str) -> str:
        """``database_url`` pointed at the proxy."""
        parts = urlsplit(database_url)
        auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{self.port}"))


class SQLiteWriteLock:
    """Holds SQLite's write lock from another connection, so every writer gets "database is
    locked" after its busy timeout: the embedded database's outage (readers still read: WAL)."""

    def __init__(self, database_url: str):
        self.path = database_url.split("///", 1)[1]
        self._connection = None

    def cut(self) -> None:
        """Take the write lock."""
        self._connection = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                           check_same_thread=False)
        self._connection.execute("BEGIN IMMEDIATE")

    def restore(self) -> None:
        """Give it back."""
        self._connection.execute("ROLLBACK")
        self._connection.close()
        self._connection = None


class RedisServer:
    """A private redis-server on a free port (no persistence); ``restart_empty()`` is Redis lost."""

    def __init__(self, directory: Path):
        self.port, self.dir = free_port(), Path(directory)
        self.process = None

    @property
    def url(self) -> str:
        """Its URL (database 0: the server is this test's alone)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server")
        assert binary, "redis-server is missing (apt-get install redis-server)"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_for(lambda: _pings(client), 10, what="redis-server to start")
        return self

    def stop(self) -> None:
        """Kill it (its data is gone: nothing is saved)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart_empty(self, down_seconds: float = 0.0) -> None:
        """Kill it, wait ``down_seconds``, start it again with no data."""
        self.stop()
        time.sleep(down_seconds)
        self.start()


def _descendants(pid: int) -> list:
    """Every process below ``pid`` (from /proc)."""
    children: dict = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.RedisError:
        return False


class Workers:
    """``flask rq worker`` processes (each in its own process group) with a shared environment;
    output goes to ``<log_dir>/<name>.log``."""

    def __init__(self, env: dict, log_dir: Path):
        self.env = {**os.environ, "FLASK_APP": "wsgi", **{k: str(v) for k, v in env.items()}}
        self.log_dir = Path(log_dir)
        self.processes: dict = {}

    def start(self, name: str, *options: str) -> subprocess.Popen:
        """Start worker ``name`` with extra ``options`` (e.g. ``--with-scheduler``)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")
        process = subprocess.Popen([sys.executable, "-m", "flask", "rq", "worker", *options], cwd=ROOT,
                                   env=self.env, start_new_session=True, stdout=log, stderr=log)
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        """SIGKILL worker ``name`` and its work horse (RQ puts the horse in a group of its own)."""
        process = self.processes[name]
        family = _descendants(process.pid)
        os.killpg(process.pid, signal.SIGKILL)
        for pid in family:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait()

    def wait_ready(self, redis_url: str, timeout: float = 60) -> None:
        """Wait until every started worker is registered in RQ (their start-up takes seconds)."""
        from rq import Worker

        client = redis.Redis.from_url(redis_url)
        try:
            wait_for(lambda: Worker.count(connection=client) >= len(self.processes), timeout,
                     what="the workers to start")
        except AssertionError:
            raise AssertionError(self.logs()) from None
        finally:
            client.close()

    def by_pid(self, pid: int) -> str | None:
        """The name of the worker whose main process is ``pid``."""
        return next((name for name, p in self.processes.items() if p.pid == pid), None)

    def alive(self) -> list:
        """Names of the workers still running."""
        return [name for name, process in self.processes.items() if process.poll() is None]

    def stop_all(self) -> None:
        """SIGTERM every worker; SIGKILL what is left after 10 s."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def logs(self) -> str:
        """Every worker's output (for a failing test's message)."""
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
                         for path in sorted(self.log_dir.glob("*.log")))

"""Starting and stopping real RQ worker processes for the benchmarks, and sampling their memory."""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from .memory import children, peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent


def worker_env(database_url: str, redis_url: str, smtp_url: str, prefix: str, instance: str) -> dict:
    """The environment a benchmark worker (or web server) runs with."""
    return dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, SMTP_URL=smtp_url,
                HERALD_PREFIX=prefix, HERALD_INSTANCE=instance, SECRET_KEY="bench-secret",
                FLASK_APP="wsgi", BASE_URL="http://bench.herald.test")


def start_workers(count: int, env: dict, simple: bool = True) -> list[subprocess.Popen]:
    """``count`` workers on the delivery queue (SimpleWorker: no fork per job, unless ``simple`` off)."""
    command = [sys.executable, "-m", "flask", "rq", "worker", "--queues", "delivery"]
    if simple:
        command.append("--simple")
    return [subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for _ in range(count)]


def stop(processes) -> None:
    """Terminate processes and wait for them."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


class PeakMemory:
    """Samples the peak RSS of processes and their children in a thread until stopped."""

    def __init__(self, processes, interval: float = 0.2):
        self.pids = [p.pid for p in processes]
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _run(self, interval):
        while not self._stop.is_set():
            for pid in self.pids:
                for each in (pid, *children(pid)):
                    self.peak = max(self.peak, peak_rss_mb(each) or 0.0)
            time.sleep(interval)

    def stop(self) -> float:
        """Stop sampling and return the peak RSS in MB."""
        self._stop.set()
        self._thread.join()
        return round(self.peak, 1)

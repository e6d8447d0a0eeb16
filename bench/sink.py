"""A local SMTP sink for benchmarks: Postfix's smtp-sink when installed, else aiosmtpd in a process."""
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

AIOSMTPD_SINK = r'''
import asyncio, sys
from aiosmtpd.controller import Controller
class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
c = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
import time
while True:
    time.sleep(3600)
'''


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_sink_path() -> str | None:
    """The smtp-sink binary of Debian's postfix package, if installed."""
    return shutil.which("smtp-sink") or (os.path.exists("/usr/sbin/smtp-sink") and "/usr/sbin/smtp-sink") or None


@dataclass
class Sink:
    """A running sink: its kind, port and process."""
    kind: str
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        """The SMTP_URL that reaches it."""
        return f"smtp://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop the sink."""
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _wait_for(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the SMTP sink did not listen on port {port}")


def start_sink() -> Sink:
    """Start smtp-sink (Postfix) if available, else an aiosmtpd sink in its own process."""
    port = free_port()
    binary = smtp_sink_path()
    if binary:
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        process = subprocess.Popen([binary, *user, "-m", "1000", f"127.0.0.1:{port}", "1024"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kind = "postfix smtp-sink"
    else:
        process = subprocess.Popen([sys.executable, "-c", AIOSMTPD_SINK, str(port)],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        kind = "aiosmtpd sink"
    _wait_for(port)
    return Sink(kind, port, process)

"""The baseline: a bare smtplib loop sending equal messages to the same sink, in 1 or N processes."""
import multiprocessing
import smtplib
import time


def _send_many(port: int, count: int, payload: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for n in range(count):
            smtp.sendmail("bench@herald.localhost", [f"r{n}@example.com"], payload)


def bare_loop_rate(port: int, total: int, payload: bytes, processes: int = 1) -> float:
    """Messages per second of ``processes`` bare smtplib loops sharing ``total`` messages."""
    share = total // processes
    started = time.perf_counter()
    if processes == 1:
        _send_many(port, share, payload)
    else:
        workers = [multiprocessing.Process(target=_send_many, args=(port, share, payload))
                   for _ in range(processes)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    return share * processes / (time.perf_counter() - started)

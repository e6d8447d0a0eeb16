"""Socket timeouts kept by the kernel instead of Python, for the send loop's hot sockets.

A Python socket with a timeout polls before every ``send`` and ``recv`` (one more system call
each: half of the send loop's calls per message, strace). With ``SO_RCVTIMEO``/``SO_SNDTIMEO``
(socket(7)) the kernel applies the same timeout to the blocking calls themselves: a call that
waits longer fails with EAGAIN, raised here as ``TimeoutError`` like Python's own timeout.
"""
import socket
import ssl
import struct
import sys

# struct timeval is two C longs on Linux; elsewhere the sockets keep Python's timeouts
KERNEL_TIMEOUTS = sys.platform.startswith("linux") and hasattr(socket, "SO_RCVTIMEO")
STALLED = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)  # what a kernel timeout raises


def kernel_timeouts(sock) -> None:
    """Move ``sock``'s Python timeout (if any) to the kernel and make it blocking; afterwards a
    stalled call raises one of ``STALLED`` (see ``stalled``) after about the same time."""
    timeout = sock.gettimeout()
    if not KERNEL_TIMEOUTS or not timeout:
        return
    value = struct.pack("ll", int(timeout), int(timeout % 1 * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
    sock.settimeout(None)


def stalled(error: BaseException) -> OSError:
    """The error to raise for ``error``, one of ``STALLED``: a TimeoutError saying so."""
    return TimeoutError(f"timed out ({error.__class__.__name__})")

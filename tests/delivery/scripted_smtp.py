"""A small real SMTP server for the transport's tests, for what aiosmtpd cannot show: it answers
by a script, records every command and every read from the socket (how many writes the client
made), offers PIPELINING and SMTPUTF8 or not, and can hang up at a chosen moment."""
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class Received:
    """One message whose content the server read: envelope and content (dot-stuffing undone)."""
    mail_from: str
    rcpt_tos: list
    data: bytes


@dataclass
class ScriptedSMTP:
    """``rcpt``: {address: reply} for RCPT; ``mail``: {address: reply} for MAIL; ``data_end``:
    {message number (1-based, counting every content received): reply, None (hang up without
    answering) or "stall" (never answer, the connection left open)}; ``data_without_rcpt``: answer DATA with 354 even when no recipient was accepted
    (a broken server). Everything else is accepted."""
    pipelining: bool = True
    smtputf8: bool = False
    rcpt: dict = field(default_factory=dict)
    mail: dict = field(default_factory=dict)
    data_end: dict = field(default_factory=dict)
    data_without_rcpt: bool = False
    commands: list = field(default_factory=list)  # every command line, decoded
    reads: list = field(default_factory=list)  # every non-empty recv, per connection: [(conn, bytes)]
    received: list = field(default_factory=list)
    connections: int = 0

    def start(self) -> "ScriptedSMTP":
        """Listen on a free loopback port (``.port``) and serve connections one after another."""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self._listener.close()

    @property
    def url(self) -> str:
        """The SMTP_URL that reaches this server."""
        return f"smtp://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                try:
                    self._session(conn, self.connections)
                except OSError:
                    pass

    def _session(self, conn, number) -> None:
        buffer, state = b"", {"from": None, "to": [], "data": None}
        conn.sendall(b"220 scripted ESMTP\r\n")
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                return
            self.reads.append((number, chunk))
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if state["data"] is not None:
                    if line.rstrip(b"\r") != b".":
                        state["data"].append(line[1:] + b"\n" if line.startswith(b".") else line + b"\n")
                        continue
                    self.received.append(Received(state["from"], state["to"], b"".join(state["data"])))
                    state.update({"data": None, "from": None, "to": []})
                    reply = self.data_end.get(len(self.received), "250 2.0.0 Ok: queued")
                    if reply is None:
                        return  # hang up: the client never learns what became of this message
                    if reply == "stall":
                        continue  # never answer, keep the connection open: the client times out
                    conn.sendall(reply.encode() + b"\r\n")
                    continue
                reply = self._command(line.rstrip(b"\r").decode("utf-8", "replace"), state)
                conn.sendall(reply.encode() + b"\r\n")
                if reply.startswith(("221", "421")):
                    return

    def _command(self, line: str, state: dict) -> str:
        self.commands.append(line)
        verb = line.split(" ", 1)[0].split(":", 1)[0].upper()
        if verb == "EHLO":
            lines = ["scripted", *(["PIPELINING"] if self.pipelining else []), "8BITMIME",
                     *(["SMTPUTF8"] if self.smtputf8 else []), "HELP"]
            return "\r\n".join(f"250{'-' if i < len(lines) - 1 else ' '}{text}"
                               for i, text in enumerate(lines))
        if verb in ("HELO", "NOOP"):
            return "250 Ok"
        if verb == "RSET":
            state.update({"from": None, "to": []})
            return "250 2.0.0 Ok"
        if verb == "QUIT":
            return "221 2.0.0 Bye"
        if verb == "MAIL":
            address = line.split("<", 1)[1].split(">", 1)[0]
            if state["from"] is not None:
                return "503 5.5.1 Error: nested MAIL command"
            reply = self.mail.get(address, "250 2.1.0 Ok")
            if reply.startswith("250"):
                state["from"] = address
            return reply
        if verb == "RCPT":
            if state["from"] is None:
                return "503 5.5.1 Error: need MAIL command"
            address = line.split("<", 1)[1].split(">", 1)[0]
            reply = self.rcpt.get(address, "250 2.1.5 Ok")
            if reply.startswith("250"):
                state["to"].append(address)
            return reply
        if verb == "DATA":
            if not state["to"] and not self.data_without_rcpt:
                return "554 5.5.1 Error: no valid recipients"
            state["data"] = []
            return "354 End data with <CR><LF>.<CR><LF>"
        return "502 5.5.2 Error: command not recognized"

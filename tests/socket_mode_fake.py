"""A Slack Socket Mode endpoint on 127.0.0.1, for testing ``paperbot serve --socket-mode`` offline.

Slack's side of Socket Mode (https://api.slack.com/apis/socket-mode): apps.connections.open (the
Web API fake answers it with `SocketModeFake.url`) hands the app a WebSocket URL; on connecting the
app gets a ``hello`` message, then one JSON *envelope* per event, slash command or interaction
(``{"envelope_id", "type": "slash_commands" | "events_api" | "interactive", "payload", …}``), and
must acknowledge each by sending ``{"envelope_id": …}`` back within 3 seconds.

The WebSocket layer is the minimum of RFC 6455 the slack_sdk built-in client uses: the opening
handshake (``Sec-WebSocket-Accept`` = base64(SHA-1(key + GUID))), unfragmented text frames (ours
unmasked, the client's masked), ping → pong, and close. The client connects without TLS to any
port but 443, so ``ws://127.0.0.1:PORT/…`` works. Loopback only.
"""
from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def _frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame (server to client)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def _read_frame(conn: socket.socket) -> tuple[int, bytes]:
    b0, b1 = _recv_exact(conn, 2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", _recv_exact(conn, 2))
    elif n == 127:
        (n,) = struct.unpack("!Q", _recv_exact(conn, 8))
    mask = _recv_exact(conn, 4) if b1 & 0x80 else b"\0\0\0\0"
    data = _recv_exact(conn, n)
    return b0 & 0x0F, bytes(c ^ mask[i % 4] for i, c in enumerate(data))


class SocketModeFake:
    """``with SocketModeFake() as ws:`` — accepts the app's WebSocket connections at `url`, sends
    ``hello``, answers pings, records every JSON message the app sends in `received`."""

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link/?ticket=test"
        self.received: list[dict] = []
        self.connections = 0  # handshakes completed: a reconnect makes it 2
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> "SocketModeFake":
        return self

    def __exit__(self, *exc) -> None:
        self._closing = True
        self._listener.close()
        if self._conn is not None:
            self._conn.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                request += _recv_exact(conn, 1)
            headers = dict(line.split(": ", 1) for line in request.decode().split("\r\n")[1:] if ": " in line)
            key = {k.lower(): v for k, v in headers.items()}["sec-websocket-key"].strip()
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            self._conn = conn
            self.connections += 1
            self.send({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"},
                       "debug_info": {"host": "fake-applink", "approximate_connection_time": 3600}})
            while True:
                opcode, data = _read_frame(conn)
                if opcode == PING:
                    with self._send_lock:
                        conn.sendall(_frame(PONG, data))
                elif opcode == TEXT:
                    self.received.append(json.loads(data))
                elif opcode == CLOSE:
                    return
        except (OSError, ConnectionError, ValueError, KeyError):
            return
        finally:
            conn.close()

    def send(self, message: dict) -> None:
        """Send one JSON message (an envelope) to the connected app."""
        with self._send_lock:
            self._conn.sendall(_frame(TEXT, json.dumps(message).encode()))

    def drop(self) -> None:
        """Reset the current connection (TCP RST, no close frame), as a failing network would."""
        self._conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._conn.close()

    def connected(self) -> bool:
        """True once an app has completed the handshake."""
        return self._conn is not None

    def acks(self, envelope_id: str) -> list[dict]:
        """The app's acknowledgements of one envelope."""
        return [m for m in self.received if m.get("envelope_id") == envelope_id]

    def wait_ack(self, envelope_id: str, timeout: float = 15) -> dict:
        """The first acknowledgement of `envelope_id`, waiting for it; AssertionError on timeout."""
        from tests.bot_harness import wait_for

        wait_for(lambda: self.acks(envelope_id), timeout, f"an ack of envelope {envelope_id}")
        return self.acks(envelope_id)[0]

"""A misbehaving HTTP server on 127.0.0.1 for fault-injection tests of the feed fetchers.

Each path has a script of `Step`s played one per request; when the script runs out, the last
step repeats. A step can answer normally (status, headers, body), wait first (`delay`, to cause
client timeouts), drop the connection with a TCP reset and no answer (`reset`), promise a
``Content-Length`` and send only part of the body (`truncate`), trickle the body slowly
(`drip`), or act as a conditional-GET server (`etag`: a matching ``If-None-Match`` gets 304).

Every request is recorded (path, query, headers, arrival time, client port), and the highest
number of requests in flight at once is kept (`max_in_flight`) to check one-connection rules.

    with FaultServer() as srv:
        srv.route("/feed", Step(status=503), Step(body=b"<feed …>"))
        fetcher.get(srv.url("/feed"))
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class Step:
    """One scripted behaviour (see the module doc)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False
    truncate: int | None = None  # send only this many body bytes (Content-Length stays full)
    drip: float = 0.0  # seconds between 64-byte body chunks
    etag: str | None = None
    content_type: str = "application/xml"


class FaultServer:
    """``with FaultServer() as srv:`` — `srv.url(path)` is the full URL of a route."""

    def __init__(self):
        self.routes: dict[str, list[Step]] = {}
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like real servers

            def log_message(self, *args):
                pass

            def do_GET(self):
                parsed = urlparse(self.path)
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    server.requests.append({"path": parsed.path, "query": parse_qs(parsed.query),
                                            "headers": dict(self.headers), "at": time.monotonic(),
                                            "port": self.client_address[1]})
                    script = server.routes.get(parsed.path)
                    step = (script.pop(0) if len(script) > 1 else script[0]) if script else Step(status=404)
                try:
                    self._play(step)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _play(self, step: Step) -> None:
                if step.delay:
                    time.sleep(step.delay)
                if step.reset:
                    # SO_LINGER 0 → close() sends a TCP RST: "connection reset by peer"
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if step.etag and self.headers.get("If-None-Match") == step.etag:
                    self.send_response(304)
                    self.send_header("ETag", step.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(step.status)
                self.send_header("Content-Type", step.content_type)
                self.send_header("Content-Length", str(len(step.body)))
                if step.etag:
                    self.send_header("ETag", step.etag)
                for k, v in step.headers.items():
                    self.send_header(k, v)
                if step.truncate is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                body = step.body if step.truncate is None else step.body[: step.truncate]
                if step.drip:
                    for i in range(0, len(body), 64):
                        try:
                            self.wfile.write(body[i:i + 64])
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(step.drip)
                else:
                    self.wfile.write(body)
                if step.truncate is not None:
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        """Full URL of `path` on this server."""
        return self.base + path

    def route(self, path: str, *steps: Step) -> None:
        """Set the script for `path` (replacing any earlier one)."""
        self.routes[path] = list(steps)

    def requests_to(self, path: str) -> list[dict]:
        """Recorded requests for `path`, in arrival order."""
        return [r for r in self.requests if r["path"] == path]

    def __enter__(self) -> "FaultServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

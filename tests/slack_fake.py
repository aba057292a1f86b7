"""A Slack Web API fake on 127.0.0.1 for tests: the real `slack_sdk.WebClient` talks to it
through ``base_url`` / ``SLACK_API_URL``.

It records every call (method, form/JSON arguments, headers) and answers like Slack: ``{"ok":
true, …}`` with a fresh ``ts`` for chat.postMessage. Tests can queue scripted answers per method
(e.g. a 429 with ``Retry-After``, or ``{"ok": false, "error": "channel_not_found"}``), and
faults: a `delay` before answering (client timeouts), a `reset` (the socket is closed without an
answer), a `raw` non-JSON body (an HTML 503 page), and `process=True` (the call takes effect —
the message is posted — but the scripted failure is what the client sees: the ambiguous case).

conversations.history behaves like Slack's: newest first, only messages with ``ts >= oldest``,
and message ``metadata`` only when ``include_all_metadata`` is true. conversations.replies gives a
thread's parent then its replies, oldest first, with the same ``oldest`` and metadata rules.
"""
from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class SlackFake:
    """Start with ``with SlackFake() as fake:``; ``fake.url`` is the base URL (ends with /)."""

    def __init__(self):
        self.calls: list[dict] = []
        self.scripted: dict[str, list[tuple[int, dict, dict]]] = {}
        self.messages: dict[str, list[dict]] = {}  # channel -> posted messages (for history)
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                    for k in ("blocks", "view", "attachments", "metadata"):
                        if isinstance(args.get(k), str):
                            try:
                                args[k] = json.loads(args[k])
                            except ValueError:
                                pass
                # response_url posts (slash commands, buttons) go to /response/<id>
                path = self.path.split("?", 1)[0]
                method = "response_url" if path.startswith("/response/") else path.rsplit("/", 1)[-1]
                if method == "response_url":
                    args["_path"] = self.path
                answer = fake._answer(method, args, dict(self.headers))
                if answer.get("delay"):
                    time.sleep(answer["delay"])
                if answer.get("reset"):
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                status, body, headers = answer["status"], answer["body"], answer["headers"]
                data = answer["raw"] if answer.get("raw") is not None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if answer.get("raw") is not None
                                 else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "SlackFake":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, method: str, status: int = 200, body: dict | None = None, headers: dict | None = None,
               delay: float = 0.0, reset: bool = False, raw: bytes | None = None, process: bool = False,
               passthrough: bool = False) -> None:
        """Queue one scripted answer (or fault) for the next call of `method` (see the module doc);
        ``passthrough=True`` queues the normal answer (e.g. a real ``ts``), to let calls through
        before a scripted fault."""
        self.scripted.setdefault(method, []).append({
            "status": status, "body": body or {"ok": True}, "headers": headers or {}, "delay": delay,
            "reset": reset, "raw": raw, "process": process, "passthrough": passthrough})

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` (for response_url values pointing at this fake)."""
        return self.url[: -len("/api/")]

    def calls_to(self, method: str) -> list[dict]:
        """Recorded calls of one API method, in order."""
        return [c for c in self.calls if c["method"] == method]

    def posted(self, channel: str) -> list[dict]:
        """Messages that really landed in `channel` (top-level and replies), in posting order."""
        return list(self.messages.get(channel, []))

    def _answer(self, method: str, args: dict, headers: dict) -> dict:
        with self._lock:
            self.calls.append({"method": method, "args": args, "headers": headers, "at": time.time()})
            queue = self.scripted.get(method)
            if queue:
                answer = queue.pop(0)
                if answer["passthrough"]:
                    status, body, hdrs = self._default(method, args)
                    return {**answer, "status": status, "body": body, "headers": hdrs}
                if answer["process"]:
                    self._default(method, args)
                return answer
            status, body, hdrs = self._default(method, args)
            return {"status": status, "body": body, "headers": hdrs}

    def _default(self, method: str, args: dict) -> tuple[int, dict, dict]:
        if method == "chat.postMessage":
            ts = f"{int(time.time()) + next(self._ts)}.000100"
            msg = {"ts": ts, "text": args.get("text"), "blocks": args.get("blocks"),
                   "thread_ts": args.get("thread_ts"), "bot_id": "BFAKE"}
            if args.get("metadata"):
                msg["metadata"] = args["metadata"]
            channel = args.get("channel") or ""
            if channel.startswith("U"):  # posting to a user id lands in the bot's DM with them
                channel = "D" + channel[1:]
            self.messages.setdefault(channel, []).append(msg)
            return 200, {"ok": True, "channel": channel, "ts": ts, "message": msg}, {}
        if method == "chat.update":
            return 200, {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}, {}
        if method == "response_url":
            return 200, {"ok": True}, {}
        if method == "conversations.open":
            user = str(args.get("users") or "").split(",")[0]
            return 200, {"ok": True, "channel": {"id": "D" + user[1:]}}, {}
        if method == "conversations.history":
            oldest = float(args.get("oldest") or 0)
            with_meta = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
            msgs = []
            for m in reversed(self.messages.get(args.get("channel"), [])):
                if float(m["ts"]) < oldest or m.get("thread_ts"):
                    continue
                msgs.append(m if with_meta else {k: v for k, v in m.items() if k != "metadata"})
            return 200, {"ok": True, "messages": msgs, "has_more": False}, {}
        if method == "conversations.replies":
            oldest = float(args.get("oldest") or 0)
            with_meta = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
            parent = str(args.get("ts"))
            thread = [m for m in self.messages.get(args.get("channel"), [])
                      if m["ts"] == parent or (m.get("thread_ts") == parent and float(m["ts"]) >= oldest)]
            if not any(m["ts"] == parent for m in thread):
                return 200, {"ok": False, "error": "thread_not_found"}, {}
            msgs = [m if with_meta else {k: v for k, v in m.items() if k != "metadata"} for m in thread]
            return 200, {"ok": True, "messages": msgs, "has_more": False}, {}
        if method == "auth.test":
            return 200, {"ok": True, "user_id": "UBOT", "bot_id": "BFAKE", "team_id": "T1"}, {}
        return 200, {"ok": True}, {}

"""A fake arXiv API on 127.0.0.1 that answers with real recorded exchanges.

Each recording in ``tests/fixtures/arxiv_api/*.json`` (``{url, status_code, body}``, recorded
by arxiv.py against export.arxiv.org) answers the request whose query matches the recorded one:
the same ``id_list`` (an id look-up), or the same ``search_query``, ``start`` and
``max_results`` (a search). A request no recording answers gets HTTP 404 with a plain-text body,
which the client reports as an arXiv API failure.

    with ArxivAPIFake() as api:
        ArxivAPIClient(Fetcher(), url=api.url).by_ids(["1707.08567"])
        api.id_lists  # [["1707.08567"]]

`fail_first` answers the first requests with those statuses (``Retry-After: 0``) before the
recordings take over (429 / 503 handling); `refuse` names ids whose presence in an ``id_list``
gets arXiv's real HTTP 400 error feed (recorded for ``id_list=abc``); `rewrite` (``body ->
body``) changes every recorded body before it is sent (a page arXiv sends cut short or empty).
`compose=True` answers any id list (a long list's batches) as arXiv would from the recordings:
the entries of the ids recorded alone (``1707.08567``, ``1605.08386``, ``astro-ph/0601001``, …),
in a feed counting them (arXiv's recorded answer for an unknown id, with them added); other
ids are not on arXiv.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from tests.conftest import FIXTURES

ERROR_FEED = "id_abc_s0_m100_b79c8dcf6bc3.json"  # arXiv's answer to an id it refuses: HTTP 400 + error feed


def _key(query: dict[str, list[str]]) -> tuple:
    one = {k: v[0] for k, v in query.items()}
    if one.get("id_list"):
        return ("id_list", one["id_list"])
    return ("search", one.get("search_query", ""), one.get("start", "0"), one.get("max_results", ""))


def recordings() -> dict[tuple, tuple[int, bytes]]:
    """Every recorded exchange under tests/fixtures/arxiv_api, by request key."""
    out = {}
    for path in sorted((FIXTURES / "arxiv_api").glob("*.json")):
        ex = json.loads(path.read_text())
        out[_key(parse_qs(urlparse(ex["url"]).query))] = (ex["status_code"], ex["body"].encode())
    return out


class ArxivAPIFake:
    """``with ArxivAPIFake(fail_first=[429]) as api:`` — `api.url` is the query endpoint;
    `api.queries` holds every request's query (``{name: value}``), `api.id_lists` the id lists."""

    def __init__(self, fail_first: list[int] | None = None, refuse: set[str] | None = None,
                 rewrite: Callable[[bytes], bytes] | None = None, compose: bool = False):
        self.queries: list[dict[str, str]] = []
        self._fail = list(fail_first or [])
        self._refuse = set(refuse or ())
        self._rewrite = rewrite or (lambda body: body)
        self._compose = compose
        self._recorded = recordings()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = parse_qs(urlparse(self.path).query)
                status, body, headers = outer._answer(query)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/query"

    def _answer(self, query: dict[str, list[str]]) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            self.queries.append({k: v[0] for k, v in query.items()})
            if self._fail:
                return self._fail.pop(0), b"slow down", {"Retry-After": "0", "Content-Type": "text/plain"}
        atom = {"Content-Type": "application/atom+xml"}
        ids = set(query.get("id_list", [""])[0].split(","))
        if ids & self._refuse:
            return (*self._recorded[("id_list", "abc")], atom)
        found = self._recorded.get(_key(query))
        if found is None and self._compose and query.get("id_list"):
            found = self._composed(query["id_list"][0].split(","))
        if found is None:
            return 404, f"no recording for {self.queries[-1]}".encode(), {"Content-Type": "text/plain"}
        return found[0], self._rewrite(found[1]), atom

    def _composed(self, ids: list[str]) -> tuple[int, bytes]:
        entries = []
        for aid in ids:
            one = self._recorded.get(("id_list", aid))
            if one is not None and b"<entry>" in one[1]:
                body = one[1]
                entries.append(body[body.index(b"<entry>"):body.rindex(b"</entry>") + len(b"</entry>")])
        status, empty = self._recorded[("id_list", "0000.0000")]  # 0 results
        body = empty.replace(b"<opensearch:totalResults>0<", f"<opensearch:totalResults>{len(entries)}<".encode())
        return status, body.replace(b"</feed>", b"\n".join(entries) + b"\n</feed>")

    @property
    def id_lists(self) -> list[list[str]]:
        """The ``id_list`` of each id look-up, in order."""
        return [q["id_list"].split(",") for q in self.queries if q.get("id_list")]

    def __enter__(self) -> ArxivAPIFake:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

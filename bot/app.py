"""Building the bolt `App` and serving it (HTTP through waitress, or Socket Mode).

- The App is built with ``client=make_client(...)`` so every outgoing Web API call (including
  bolt's own auth.test, ``respond`` goes to the response_url) honours ``SLACK_API_URL`` and the
  429/connection retry handlers.
- ``process_before_response=False``: bolt acks in the HTTP response and runs the rest of each
  listener on its thread pool, so long work (search, digests) happens after the ack and answers
  through ``respond`` / the Web API. That needs a long-running server, which waitress is.
- A listener keeps its pool thread after ``ack()`` while it works, and a request whose listener
  cannot start gets no ack (bolt answers 404 after 3 s, Slack shows the user an error). Bolt's
  default pool has 5 threads, so five slow requests (searches waiting on a TF-IDF refit,
  ``digest now`` polling the feeds) starved every button and command; the pool here has
  `LISTENER_THREADS` (threads start only when needed).
- HTTP mode verifies every request with the signing secret (HMAC-SHA256 of
  ``v0:{timestamp}:{body}``, timestamps older than 5 minutes refused → 401,
  https://api.slack.com/authentication/verifying-requests-from-slack) twice: `wsgi_app` checks
  the raw bytes *before* bolt parses the body (bolt parses first and verifies in a middleware,
  so a forged request with a malformed body got a 500 and a traceback instead of a 401), and
  bolt's own RequestVerification stays on. A signed body bolt cannot parse gets 400. Slack's
  ``ssl_check`` requests get an empty 200 first, as in bolt (`is_ssl_check`).
"""
from __future__ import annotations

import hashlib
import hmac
import io
import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.listeners import register_listeners

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
LISTENER_THREADS = 64


def build_app(services, client: WebClient, signing_secret: str | None, socket_mode: bool = False) -> App:
    """The bolt App with every listener registered.

    Raises:
        ValueError: HTTP mode without a signing secret (requests could not be verified).
    """
    if not socket_mode and not signing_secret:
        raise ValueError("SLACK_SIGNING_SECRET is required in HTTP mode (it verifies Slack's requests)")
    logging.getLogger("slack_bolt.App").addFilter(_drop_token_skipped_warning)
    app = App(client=client, signing_secret=signing_secret or "", process_before_response=False,
              request_verification_enabled=not socket_mode,
              listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="listener"))
    register_listeners(app, services)
    return app


def _drop_token_skipped_warning(record: logging.LogRecord) -> bool:
    """Logging filter: bolt reads ``SLACK_BOT_TOKEN`` from the environment on its own and then warns
    that the token is unused because a `client` was given — which is the intended set-up (the
    client carries the same token plus ``SLACK_API_URL`` and the retry handlers)."""
    return "`token` will be unused" not in record.getMessage()


class _BytesSignatureVerifier(SignatureVerifier):
    """slack_sdk's verifier (same 5-minute window, constant-time compare) computing the HMAC over
    the raw body bytes: Slack signs bytes, and the stock one decodes them as UTF-8 first, so a
    body that is not UTF-8 could never be told apart from a forged one."""

    def generate_signature(self, *, timestamp: str, body: str | bytes) -> str | None:
        if timestamp is None:
            return None
        raw = body if isinstance(body, bytes) else (body or "").encode()
        mac = hmac.new(self.signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
        return "v0=" + mac.hexdigest()


def signature_ok(verifier: SignatureVerifier, body: bytes, timestamp: str | None, signature: str | None) -> bool:
    """True when `signature` (``X-Slack-Signature``) signs `body` at `timestamp`
    (``X-Slack-Request-Timestamp``, within 5 minutes). A malformed header (a timestamp that is not
    a number, a signature with non-ASCII characters) is a bad signature, not an exception."""
    try:
        return verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except (ValueError, TypeError):
        return False


class _ParsingHandler(SlackRequestHandler):
    """bolt's WSGI handler, answering 400 when a (verified) body is not a Slack payload bolt can
    parse: not UTF-8, not JSON where JSON is due, or JSON that is not an object. bolt would raise
    while building its request and waitress would answer 500 with a traceback in the log."""

    def dispatch(self, request) -> BoltResponse:
        try:
            bolt_request = BoltRequest(body=request.get_body(), query=request.query_string,
                                       headers=request.get_headers())
            parsed = isinstance(bolt_request.body, dict)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            parsed, reason = False, type(exc).__name__
        else:
            reason = "not a JSON object"
        if not parsed:
            log.warning("signed request with a body that is not a Slack payload (%s): 400", reason)
            return BoltResponse(status=400, body="Bad Request")
        problem = unusable_interaction(bolt_request.body)
        if problem:
            log.warning("signed interaction ignored: %s", problem)
            return BoltResponse(status=200, body="")  # acked: Slack shows no error, nothing is done
        return self.app.dispatch(bolt_request)


def unusable_interaction(body: dict) -> str | None:
    """Why bolt cannot route this payload, or None. A ``block_actions`` payload needs a
    non-empty ``actions`` list of objects (https://api.slack.com/reference/interaction-payloads/block-actions-payload):
    bolt reads ``actions[0]`` while building every middleware's and listener's arguments, so
    ``"actions": []`` raised IndexError in its middleware chain (500 and a traceback)."""
    if body.get("type") != "block_actions":
        return None
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        return "block_actions without actions"
    if not all(isinstance(a, dict) for a in actions):
        return "block_actions whose actions are not objects"
    return None


def _read_body(environ) -> bytes:
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH") or "0"
    if stream is None or not length.isascii() or not length.isdigit():
        return b""
    return stream.read(int(length))


def wsgi_app(app: App, signing_secret: str):
    """A WSGI application serving `app` at ``/slack/events`` (plus ``GET /healthz``).

    A ``POST /slack/events`` whose signature does not verify with `signing_secret` (the one `app`
    was built with; bolt keeps it private) is answered 401 before bolt reads the body; a verified body that is
    no Slack payload gets 400 (`_ParsingHandler`). Everything else is bolt's.
    """
    handler = _ParsingHandler(app, path=EVENTS_PATH)
    if not signing_secret:
        raise ValueError("a signing secret is required to serve Slack's HTTP requests")
    verifier = _BytesSignatureVerifier(signing_secret)

    def application(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") == "GET":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if environ.get("PATH_INFO") == EVENTS_PATH and environ.get("REQUEST_METHOD") == "POST":
            body = _read_body(environ)
            if is_ssl_check(body):  # answered as bolt's SslCheck does (before verification): it does nothing
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b""]
            if not signature_ok(verifier, body, environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
                                environ.get("HTTP_X_SLACK_SIGNATURE")):
                log.info("request without a valid Slack signature: 401")
                start_response("401 Unauthorized", [("Content-Type", "application/json")])
                return [b'{"error": "invalid request"}']
            environ["wsgi.input"] = io.BytesIO(body)  # bolt reads the body again
            environ["CONTENT_LENGTH"] = str(len(body))
        return handler(environ, start_response)

    return application


def is_ssl_check(body: bytes) -> bool:
    """True for Slack's SSL certificate check of a slash-command URL: a form body with
    ``ssl_check=1`` (https://api.slack.com/interactivity/slash-commands, "ssl_check"), which
    may come without a signature and must get an empty 200; nothing is run for it."""
    from urllib.parse import parse_qs
    try:
        form = parse_qs(body.decode("ascii"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return False
    return form.get("ssl_check") == ["1"]


class HttpServer:
    """A waitress server for the WSGI app that can be stopped from any thread.

    ``run()`` serves until `stop` is called (or KeyboardInterrupt), then closes the listening
    socket and waitress's worker threads in the serving thread itself (closing them from another
    thread while the loop polls its sockets fails with EBADF).
    """

    def __init__(self, app: App, signing_secret: str, host: str = "127.0.0.1", port: int = 3000, threads: int = 8):
        from waitress.server import create_server
        self._server = create_server(wsgi_app(app, signing_secret), host=host, port=port, threads=threads, ident="paperbot")
        self._stopping = False

    @property
    def effective_port(self) -> int:
        """The bound TCP port (useful with ``port=0``)."""
        return getattr(self._server, "effective_port", None) or self._server.effective_listen[0][1]

    def run(self) -> None:
        """Serve until `stop` (blocking)."""
        srv = self._server
        sockets = srv._map if hasattr(srv, "_map") else srv.map  # one listener, or several (MultiSocketServer)
        try:
            while not self._stopping:
                srv.asyncore.loop(timeout=0.1, map=sockets, use_poll=srv.adj.asyncore_use_poll, count=1)
        except KeyboardInterrupt:
            pass
        finally:
            srv.close()
            dispatcher = getattr(srv, "task_dispatcher", None)
            if dispatcher is not None:
                dispatcher.shutdown()

    def stop(self) -> None:
        """Ask `run` to return (within about 0.1 s)."""
        self._stopping = True


def make_http_server(app: App, signing_secret: str, host: str = "127.0.0.1", port: int = 3000,
                     threads: int = 8) -> HttpServer:
    """An `HttpServer` (not yet running) for `app`, checking requests with `signing_secret` (the
    one given to `build_app`); ``server.effective_port`` is the bound port (pass ``port=0`` for a
    free one). Run with ``server.run()``, stop with ``server.stop()``.

    Raises:
        ValueError: an empty signing secret.
    """
    return HttpServer(app, signing_secret, host, port, threads)


def connect_socket_mode(app: App, app_token: str):
    """Open a Socket Mode connection for `app` with the app-level token (``xapp-…``): bolt's
    `SocketModeHandler` calls apps.connections.open through ``app.client`` (so ``SLACK_API_URL``
    applies) and connects the WebSocket it returns (https://api.slack.com/apis/socket-mode).
    Events are then handled on the handler's threads until ``handler.close()``; nothing blocks.

    Raises:
        slack_sdk.errors.SlackApiError: Slack refused the app token (``invalid_auth``,
            ``not_allowed_token_type`` for a bot token, …).
        OSError: Slack could not be reached.
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    handler = SocketModeHandler(app, app_token)
    handler.connect()
    return handler

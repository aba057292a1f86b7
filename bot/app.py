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
- HTTP mode verifies every request with the signing secret (bolt's RequestVerification:
  HMAC-SHA256 ``v0:{timestamp}:{body}``, timestamps older than 5 minutes refused → 401,
  https://api.slack.com/authentication/verifying-requests-from-slack).
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

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


def wsgi_app(app: App):
    """A WSGI application serving `app` at ``/slack/events`` (plus ``GET /healthz``)."""
    handler = SlackRequestHandler(app, path=EVENTS_PATH)

    def application(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") == "GET":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        return handler(environ, start_response)

    return application


class HttpServer:
    """A waitress server for the WSGI app that can be stopped from any thread.

    ``run()`` serves until `stop` is called (or KeyboardInterrupt), then closes the listening
    socket and waitress's worker threads in the serving thread itself (closing them from another
    thread while the loop polls its sockets fails with EBADF).
    """

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 3000, threads: int = 8):
        from waitress.server import create_server
        self._server = create_server(wsgi_app(app), host=host, port=port, threads=threads, ident="paperbot")
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


def make_http_server(app: App, host: str = "127.0.0.1", port: int = 3000, threads: int = 8) -> HttpServer:
    """An `HttpServer` (not yet running) for `app`; ``server.effective_port`` is the bound port
    (pass ``port=0`` for a free one). Run with ``server.run()``, stop with ``server.stop()``."""
    return HttpServer(app, host, port, threads)


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

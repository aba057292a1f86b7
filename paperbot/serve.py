"""``paperbot serve``: one process running the bolt app and the digest scheduler."""
from __future__ import annotations

import logging
import signal
import threading
from urllib.parse import urlparse

from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

from bot.app import build_app, connect_socket_mode, make_http_server
from bot.posting import SlackPoster
from bot.slack_client import error_code, make_client, transport_reason
from feeds.arxiv_api import ArxivAPIClient
from feeds.http import Fetcher, stoppable_sleep
from paperbot.config import Config
from paperbot.service import PaperbotService
from store import Store

log = logging.getLogger(__name__)


class ServeError(RuntimeError):
    """Missing secrets or settings for ``paperbot serve``."""


def build(config: Config, store: Store, socket_mode: bool = False, arxiv: ArxivAPIClient | None = None,
          poll_max_age_s: float | None = 900, grace_s: int | None = None):
    """``(service, app)`` wired together: WebClient at ``SLACK_API_URL`` with retries, a
    `SlackPoster` paced by ``[slack] post_interval_s`` (each digest message is recorded with the
    papers it shows by `paperbot.pipeline.deliver`), the service and the bolt App.

    Raises:
        ServeError: no ``SLACK_BOT_TOKEN``, or no ``SLACK_SIGNING_SECRET`` in HTTP mode; or Slack
            refused the token or could not be reached when bolt checked it with auth.test
            (https://api.slack.com/methods/auth.test) — the message names the Web API URL and
            Slack's error code, never the token.
    """
    token = config.slack_bot_token
    if not token:
        raise ServeError("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…)")
    if not socket_mode and not config.slack_signing_secret:
        raise ServeError("SLACK_SIGNING_SECRET is not set (needed to verify Slack's requests in HTTP mode; "
                         "or set SLACK_APP_TOKEN for Socket Mode)")
    client = make_client(token, config.slack_api_url)
    poster = SlackPoster(client, config.slack.post_interval_s)
    stopping = threading.Event()  # set on SIGINT/SIGTERM: waits between requests end at once
    if arxiv is None:
        sleep = stoppable_sleep(stopping)
        arxiv = ArxivAPIClient(Fetcher(sleep=sleep), url=config.arxiv_api_url, sleep=sleep)
    service = PaperbotService(config, store, poster, arxiv=arxiv, poll_max_age_s=poll_max_age_s,
                              grace_s=grace_s, stopping=stopping)
    try:
        app = build_app(service, client, config.slack_signing_secret, socket_mode=socket_mode)
    except BoltError as exc:  # auth.test answered ok: false (invalid_auth, account_inactive, …)
        raise ServeError(f"Slack refused SLACK_BOT_TOKEN (auth.test at {client.base_url}): {_slack_error(exc)}") from None
    except OSError as exc:  # URLError, connection refused / reset, timeout — after the client's retries
        raise ServeError(f"cannot reach the Slack Web API at {client.base_url} to check SLACK_BOT_TOKEN "
                         f"(auth.test): {transport_reason(exc)}") from None
    return service, app


def _slack_error(exc: BoltError) -> str:
    """Slack's error code from bolt's auth.test failure message, or the message itself."""
    import re

    m = re.search(r"'error': '([^']+)'", str(exc))
    return m.group(1) if m else str(exc)


def serve(config: Config, store: Store, host: str, port: int, socket_mode: bool = False) -> None:
    """Serve until SIGINT/SIGTERM: check the token (auth.test), open the listener — bind the HTTP
    port, or connect Socket Mode — and only then import the curated files, start the background
    poll and the scheduler (catching up missed slots), so a bad setting stops the process before
    any digest goes out.

    On SIGINT/SIGTERM — also one during start-up, while the curated files are imported — no new
    request or digest starts, the function returns normally, and a poll stops at its next source or
    wait between requests (retry backoff, arXiv pacing: `feeds.http.stoppable_sleep`) instead of
    polling every remaining source. The function returns only once the digests under way, the
    listeners at work and the poll's request in flight have finished: they use
    `store`, which the caller closes next (closing a connection while another thread is inside a
    query on it crashes the process with a segmentation fault).

    Progress (each job's next run, catch-up, the address served, the stop) is logged at INFO on
    ``paperbot.serve``; ``paperbot serve`` shows that logger's INFO lines without ``-v``.

    Raises:
        ServeError: a missing secret, a token Slack refuses, Slack unreachable, or the port taken;
            the message never holds a token.
    """
    socket_mode = socket_mode or bool(config.slack_app_token)
    if socket_mode and not config.slack_app_token:
        raise ServeError("Socket Mode needs SLACK_APP_TOKEN (the app-level token, xapp-…)")
    service, app = build(config, store, socket_mode)
    handler = server = None
    if socket_mode:
        try:
            handler = connect_socket_mode(app, config.slack_app_token)
        except SlackApiError as exc:
            code = error_code(exc)
            raise ServeError(f"Slack refused SLACK_APP_TOKEN (apps.connections.open at {app.client.base_url}): "
                             f"{code or getattr(exc.response, 'status_code', 'no answer')}") from None
        except OSError as exc:
            raise ServeError(f"cannot open a Socket Mode connection through {app.client.base_url}: "
                             f"{transport_reason(exc)}") from None
        if not handler.client.is_connected():  # the SDK logs a failed WebSocket handshake, it does not raise
            host = urlparse(handler.client.wss_uri or "").netloc or "?"
            handler.close()
            raise ServeError(f"Slack gave a Socket Mode URL but its WebSocket ({host}) did not connect; "
                             "see the log line above")
    else:
        try:
            server = make_http_server(app, config.slack_signing_secret, host, port)
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        except ValueError as exc:  # waitress: "Invalid host/port specified." when --host does not resolve
            raise ServeError(f"cannot listen on {host}:{port}: {exc} (--host must be an address or a "
                             "name of this machine, e.g. 127.0.0.1 or 0.0.0.0)") from None

    def stop(*_):  # runs in the main thread, interrupting the wait below / the server's select loop
        raise KeyboardInterrupt
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}  # put back on return
    signal.signal(signal.SIGTERM, stop)
    poll = None
    try:
        service.import_curated()  # collections exist before anyone runs `/papers subscribe <collection>`
        poll = service.start_background_poll()  # search has papers before the first digest
        caught = service.scheduler.start()
        for job, when in service.scheduler.jobs():
            log.info("scheduled %s next at %s", job, when)
        if caught:
            log.info("catching up missed digests: %s", ", ".join(caught))
        if handler is not None:
            log.info("paperbot serving over Socket Mode")
            threading.Event().wait()  # events arrive on the handler's threads
        else:
            log.info("paperbot serving on http://%s:%s/slack/events", host, server.effective_port)
            server.run()  # returns on KeyboardInterrupt (SIGINT, or SIGTERM via `stop`)
    except KeyboardInterrupt:
        # SIGINT/SIGTERM while serving (Socket Mode's wait) or still starting up — during the
        # curated import or the scheduler's start: a stop like any other, not a crash (exit 1)
        pass
    finally:
        # a second SIGINT/SIGTERM must not cut the waits below short: the caller closes `store`
        # next, and closing it under a digest still posting can crash the process (see above)
        def again(*_):
            log.warning("paperbot is already stopping: waiting for the digests being posted")
        signal.signal(signal.SIGINT, again)
        signal.signal(signal.SIGTERM, again)
        # a poll stops at its next source or wait; a digest under way finishes (and is recorded)
        service.begin_shutdown()
        log.info("paperbot stopping: finishing the digests being posted and the requests under way")
        if handler is not None:
            handler.close()
        service.scheduler.shutdown(wait=True)
        app.listener_runner.listener_executor.shutdown(wait=True)
        if poll is not None:
            poll.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("paperbot stopped")

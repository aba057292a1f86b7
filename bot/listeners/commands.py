"""``/papers`` slash command: ack at once (Slack wants it within 3 s), then do the work and
answer through ``respond`` (the command's response_url), ephemeral unless stated otherwise.

Malformed input gets the usage line (`bot.commands_parser.UsageError`); a command the service
refuses for a reason the user can act on (an exception with a ``user_reply``, e.g. a near miss
of a collection name) gets that reply, ephemeral; any failure gets one short line, never a stack
trace (the trace goes to the log). The parser hands on values as the
user typed them (Slack's ``&amp;`` etc. decoded), so every plain-text message that may echo one
(usage lines, query and service errors) is escaped before it is sent
(https://api.slack.com/reference/surfaces/formatting#escaping); replies built by the service
escape their own values.
"""
from __future__ import annotations

import logging

from bot.blocks import escape_mrkdwn, escape_within
from bot.commands_parser import USAGE, USAGES, Command, UsageError, parse_command
from bot.listeners.payload import can_respond
from bot.search_blocks import no_match_text, search_blocks
from recommender.search import QueryError

log = logging.getLogger(__name__)


def _is_dm(body: dict) -> bool:
    return (body.get("channel_name") == "directmessage" or str(body.get("channel_id", "")).startswith("D"))


def register(app, services) -> None:
    """Register the ``/papers`` command."""

    @app.command("/papers")
    def papers_command(ack, body, respond):
        try:
            cmd = parse_command(body.get("text"))
        except UsageError as exc:
            ack(response_type="ephemeral", text=escape_mrkdwn(str(exc)))
            return
        if cmd.name == "help":
            ack(response_type="ephemeral", text=escape_mrkdwn(USAGE))
            return
        ack()
        if not can_respond(body):  # Slack always sends one; without it no answer could be given
            log.warning("/papers %s without a response_url: ignored", cmd.name)
            return
        try:
            run_command(services, cmd, body, respond)
        except QueryError as exc:  # a malformed search filter: say which, with the usage line
            respond(response_type="ephemeral", replace_original=False,
                    text=escape_mrkdwn(f"{exc}. {USAGES['search']}"))
        except Exception as exc:  # user sees one line; the log gets the trace
            reply = getattr(exc, "user_reply", None)
            if reply:  # refused on purpose (e.g. did you mean `rlhf_code`?): built and escaped by the service
                respond(response_type="ephemeral", replace_original=False, text=reply)
                return
            msg = getattr(exc, "user_message", None)
            if msg is None:
                log.exception("/papers %s failed", cmd.name)
            respond(response_type="ephemeral", replace_original=False,
                    text=f"Sorry, that failed: {escape_mrkdwn(msg)}" if msg else
                    "Sorry, something went wrong; the error was logged. Try again later.")


def digest_now_reply(status: str, n_papers: int, error: str | None = None, n_unposted: int = 0,
                     detail: str | None = None) -> str:
    """The ``/papers digest now`` answer for a `paperbot.pipeline.DeliveryOutcome` status
    (posted | printed | skipped-duplicate | skipped-empty | failed | uncertain): only a digest
    Slack confirmed is reported as posted, and only the `n_papers` that reached Slack count as
    posted; `n_unposted` papers of a failed thread reply are said to wait for the next digest.
    A refusal is explained by `detail` (what happened and what to do, e.g. "invite it with
    /invite @paperbot") followed by Slack's code `error` when `detail` does not already name it."""
    reason = error or "no reason given"
    if detail:
        reason = detail if not error or error in detail else f"{detail} ({error})"
    why = escape_within(reason, 300)
    if status in ("posted", "printed"):
        posted = f"Digest posted: {n_papers} paper{'s' if n_papers != 1 else ''}"
        if not n_unposted:
            return posted + "."
        return (f"{posted}; the other {n_unposted} could not be posted in its thread ({why}) and will come in "
                "the next digest.")
    if status == "skipped-empty":
        return "Nothing new to post (this channel skips empty digests)."
    if status == "skipped-duplicate":
        return "This digest was already posted, or is being posted right now; it is not posted twice."
    if status == "uncertain":
        return (f"Slack did not confirm the digest ({why}). It may be in the channel already: look before "
                "asking again. It is checked on the next run and never posted twice.")
    return f"Posting the digest failed: {why}"


def run_command(services, cmd: Command, body: dict, respond) -> None:
    """Execute a parsed command and answer via `respond` (after the ack)."""
    user = body.get("user_id", "")
    channel = body.get("channel_id", "")
    dm = _is_dm(body)
    if cmd.name == "search":
        hits = services.search(cmd.value)
        respond(response_type="ephemeral", text=f"{len(hits)} results for your search",
                blocks=search_blocks(cmd.value, hits, no_match=no_match_text(cmd.value)))
    elif cmd.name in ("subscribe", "subscribe_keywords", "subscribe_collection"):
        respond(response_type="ephemeral" if dm else "in_channel",
                text=services.subscribe(user if dm else channel, cmd.value, not dm, body.get("channel_name", ""),
                                        keywords_only=cmd.name == "subscribe_keywords",
                                        collection_only=cmd.name == "subscribe_collection"))
    elif cmd.name in ("unsubscribe", "unsubscribe_keywords", "unsubscribe_collection"):
        respond(response_type="ephemeral" if dm else "in_channel",
                text=services.unsubscribe(user if dm else channel, cmd.value, not dm,
                                          keywords_only=cmd.name == "unsubscribe_keywords",
                                          collection_only=cmd.name == "unsubscribe_collection"))
    elif cmd.name in ("follow_author", "unfollow_author"):
        respond(response_type="ephemeral", text=services.follow_author(user, cmd.value, cmd.name == "follow_author"))
    elif cmd.name == "like":
        paper, stored = services.like(user, cmd.value, event_key=f"like:{user}:{body.get('trigger_id') or cmd.value}")
        respond(response_type="ephemeral",
                text=(f"👍 recorded for <{paper.abs_url}|"
                      f"{escape_within(paper.title, 400)}>" if stored else "Already recorded."))
    elif cmd.name == "profile":
        respond(response_type="ephemeral", text=services.profile_text(user))
    elif cmd.name == "digest_now":
        from_slot = services.now_slot()
        out = services.run_user_digest(user, from_slot) if dm else services.run_channel_digest(channel, from_slot)
        text = digest_now_reply(out.status, out.n_papers, out.error, out.n_unposted, out.detail)
        if not dm and services.digest_paused_since(channel):
            text += " (Scheduled digests of this channel are paused: `/papers digest on` resumes them.)"
        respond(response_type="ephemeral", text=text)
    elif cmd.name == "digest_dm":
        respond(response_type="ephemeral", text=services.set_dm_digest(user, bool(cmd.value)))
    elif cmd.name == "digest_pause":  # in a DM, "this conversation's digest" is the user's DM digest
        respond(response_type="ephemeral" if dm else "in_channel",
                text=services.set_dm_digest(user, not cmd.value) if dm else services.set_digest_paused(channel, cmd.value))
    elif cmd.name == "digest_show":
        who = "Your DM digest: " if dm else "This channel's digest: "
        respond(response_type="ephemeral", text=who + services.digest_settings_text(user if dm else channel, not dm))
    elif cmd.digest_setting:
        respond(response_type="ephemeral" if dm else "in_channel",
                text=services.set_digest_setting(user if dm else channel, not dm, cmd.digest_setting, cmd.value))
    else:  # parse_command only returns the names above
        respond(response_type="ephemeral", text=escape_mrkdwn(USAGE))

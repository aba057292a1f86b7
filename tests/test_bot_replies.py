"""The real bolt app over HTTP (tests/bot_harness.py): what our replies say and how they are
escaped, and how hostile or malformed requests are answered."""
from __future__ import annotations

import json
import time

import pytest

from feeds.records import Paper
from tests.bot_harness import BotServer, make_config, seed_store

HOSTILE_TITLE = "Q&A agents: when <think> beats > 1B params"
HOSTILE_ID = "2401.99991"


@pytest.fixture
def seeded(store):
    seed_store(store)
    store.upsert_papers([Paper(HOSTILE_ID, HOSTILE_TITLE, "agents that think", authors=["A <B> & C"],
                               categories=["cs.AI"])])
    return store


def _unescaped(text: str) -> bool:
    """True when `text` holds a raw &, < or > that is not an entity or one of our own <url|…>
    links (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    import re
    rest = re.sub(r"<https?://[^<>|]+\|[^<>]*>", "", text)
    return bool(re.search(r"[<>]|&(?!(amp|lt|gt);)", rest))


# ---- 1. titles and stored values are escaped in replies --------------------------------------
def test_like_reply_button_confirmation_and_profile_escape_titles_and_follows(tmp_path, seeded, slack_fake,
                                                                             monkeypatch):
    seeded.add_follow("U6", "keyword", "reward & <safety>")
    seeded.add_follow("U6", "author", "Smith & Wesson")
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command(f"like {HOSTILE_ID}", user="U6")
        liked = bot.wait_response(rid)["text"]
        _, rid = bot.action("feedback_down", HOSTILE_ID, user="U7", ephemeral=True)
        confirmed = bot.wait_response(rid)["text"]
        _, rid = bot.command("profile", user="U6")
        profile = bot.wait_response(rid)["text"]
    escaped = "Q&amp;A agents: when &lt;think&gt; beats &gt; 1B params"
    assert liked == f"👍 recorded for <https://arxiv.org/abs/{HOSTILE_ID}|{escaped}>"
    assert confirmed.startswith(f"👎 recorded for “{escaped}”")
    assert f"|{escaped}>" in profile
    assert "*Keywords:* reward &amp; &lt;safety&gt;" in profile and "*Authors:* Smith &amp; Wesson" in profile
    for text in (liked, confirmed, profile):
        assert not _unescaped(text), text


# ---- 3. /papers digest now says what happened ---------------------------------------------------
def test_digest_now_reports_an_unconfirmed_post_and_a_duplicate_honestly(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command("subscribe rlhf_code")
        bot.wait_response(rid)
        # Slack answers 5xx to the post (the message landed) and the history cannot be read
        slack_fake.script("chat.postMessage", 503, raw=b"<html>503 Service Unavailable</html>", process=True)
        slack_fake.script("conversations.history", 200, {"ok": False, "error": "missing_scope"})
        _, rid = bot.command("digest now")
        uncertain = bot.wait_response(rid)["text"]
        monkeypatch.setattr(bot.service, "now_slot", lambda: "now:2026-03-02T10:00:00+00:00")
        _, rid = bot.command("digest now")
        first = bot.wait_response(rid)["text"]
        _, rid = bot.command("digest now")  # the same slot again (two clicks in one second)
        again = bot.wait_response(rid)["text"]
    assert "Digest posted" not in uncertain and "did not confirm" in uncertain and "missing_scope" in uncertain
    assert first.startswith("Digest posted: ")
    assert again == "This digest was already posted, or is being posted right now; it is not posted twice."


def test_digest_now_counts_only_the_papers_that_reached_slack(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command("subscribe rlhf_code")
        bot.wait_response(rid)
        _, rid = bot.command("digest size 40")
        bot.wait_response(rid)
        slack_fake.script("chat.postMessage", passthrough=True)  # the main message goes out…
        slack_fake.script("chat.postMessage", body={"ok": False, "error": "invalid_blocks"})  # …its thread not
        _, rid = bot.command("digest now")
        reply = bot.wait_response(rid, 60)["text"]
    shown = sum(1 for m in slack_fake.posted("C1") for b in m["blocks"] if b.get("block_id", "").startswith("paper:"))
    assert 0 < shown < 40
    assert reply.startswith(f"Digest posted: {shown} papers; the other {40 - shown} could not be posted")
    assert "invalid_blocks" in reply and reply.endswith("will come in the next digest.")


def test_a_refused_digest_now_explains_what_to_do(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command("subscribe rlhf_code", channel="G123", channel_name="privategroup")
        bot.wait_response(rid)
        slack_fake.script("chat.postMessage", body={"ok": False, "error": "not_in_channel"})
        _, rid = bot.command("digest now", channel="G123", channel_name="privategroup")
        not_in = bot.wait_response(rid, 60)["text"]
        time.sleep(1.1)  # `digest now` slots are per second
        slack_fake.script("chat.postMessage", body={"ok": False, "error": "channel_not_found"})
        _, rid = bot.command("digest now", channel="G123", channel_name="privategroup")
        not_found = bot.wait_response(rid, 60)["text"]
    assert not_in == ("Posting the digest failed: the bot is not a member of channel G123: invite it with "
                      "/invite @paperbot (not_in_channel)")
    assert not_found.startswith("Posting the digest failed: channel G123 was not found (deleted, mistyped, or "
                                "private and the bot was never invited)")
    assert not_found.endswith("(channel_not_found)")


# ---- 4. a Unicode digit is a usage error, not a crash ---------------------------------------------
def test_digest_size_with_a_superscript_digit_gets_the_usage_line(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        resp, _ = bot.command("digest size ²")
    assert resp.status_code == 200 and "usage: `/papers digest size" in resp.json()["text"]


# ---- 5. forged or malformed bodies: 401 before bolt parses, 400 when signed but unparseable ---
def _signed_bytes(body: bytes, secret: str) -> dict[str, str]:
    import hashlib
    import hmac
    import time
    ts = str(int(time.time()))
    mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + mac}


MALFORMED = [
    (b"payload={not json", "application/x-www-form-urlencoded"),
    (b"payload=%5B1%5D", "application/x-www-form-urlencoded"),  # payload=[1]
    (b"[1]", "application/json"),
    (b"null", "application/json"),
    (b"\xff\xfe{\x00", "application/json"),
    (b"\xff\xfepayload=1", "application/x-www-form-urlencoded"),
]


def test_malformed_bodies_get_401_unsigned_and_400_signed_without_a_traceback(tmp_path, seeded, slack_fake,
                                                                               monkeypatch, caplog):
    from tests.bot_harness import SECRET
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        for body, ctype in MALFORMED:
            unsigned = bot.http.post(bot.url, content=body, headers={"Content-Type": ctype})
            bad_ts = bot.http.post(bot.url, content=body, headers={
                "Content-Type": ctype, "X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=" + "g" * 64})
            forged = bot.http.post(bot.url, content=body, headers={"Content-Type": ctype,
                                                                     **_signed_bytes(body, "not-the-secret")})
            signed = bot.http.post(bot.url, content=body, headers={"Content-Type": ctype,
                                                                     **_signed_bytes(body, SECRET)})
            assert (unsigned.status_code, bad_ts.status_code, forged.status_code, signed.status_code) == \
                (401, 401, 401, 400), body
        helped, _ = bot.command("help")  # a real request still goes through bolt
        assert helped.status_code == 200 and "/papers search" in helped.json()["text"]
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    assert seeded.feedback_count() == 0 and seeded.channels() == []
    assert [c["method"] for c in slack_fake.calls if c["method"] != "auth.test"] == []


def test_signature_check_treats_malformed_headers_as_a_bad_signature():
    import time

    from bot.app import _BytesSignatureVerifier, signature_ok
    from tests.bot_harness import SECRET, sign
    v = _BytesSignatureVerifier(SECRET)
    good = sign("a=1")
    assert signature_ok(v, b"a=1", good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"])
    assert not signature_ok(v, b"a=2", good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"])
    assert not signature_ok(v, b"a=1", "soon", good["X-Slack-Signature"])
    assert not signature_ok(v, b"a=1", good["X-Slack-Request-Timestamp"], "v0=é")  # compare_digest: TypeError
    assert not signature_ok(v, b"a=1", None, None)
    stale = sign("a=1", timestamp=int(time.time()) - 301)
    assert not signature_ok(v, b"a=1", stale["X-Slack-Request-Timestamp"], stale["X-Slack-Signature"])


# ---- 6. each "Follow <collection>" button has its own action_id, and each is handled ----------
def test_home_follow_buttons_with_their_own_action_ids_follow_the_collection(tmp_path, seeded, slack_fake,
                                                                            monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        resp, _ = bot.action("home_follow_collection:3", "rlhf_code", user="U2")  # as bot.home names it
        assert resp.status_code == 200
        from tests.bot_harness import wait_for
        wait_for(lambda: seeded.follows("U2") == {"collection": ["rlhf_code"]}, what="follow from button 3")
        wait_for(lambda: slack_fake.calls_to("views.publish"), what="home republished")


# ---- 7. slash-command text is taken as the user typed it ------------------------------------------
def test_escaped_command_text_is_stored_and_searched_as_typed_and_echoed_escaped(tmp_path, seeded, slack_fake,
                                                                                  monkeypatch):
    seeded.upsert_papers([Paper("2401.99992", "Revolvers and reward models", "a paper", authors=["Smith & Wesson"],
                                categories=["cs.LG"])])
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        # what Slack posts when the user types: /papers subscribe reward & <safety>
        _, rid = bot.command("subscribe reward &amp; &lt;safety&gt;", channel="C6", channel_name="ml")
        subscribed = bot.wait_response(rid)["text"]
        _, rid = bot.command('search author:"Smith &amp; Wesson"')
        found = bot.wait_response(rid)
        resp, _ = bot.command("like &lt;2401.99992&gt;")
        refused = resp.json()["text"]
    assert seeded.follows("C6") == {"keyword": ["reward & <safety>"]}
    assert "keyword “reward &amp; &lt;safety&gt;”" in subscribed and not _unescaped(subscribed)
    shown = [b["block_id"][6:] for b in found["blocks"] if b.get("block_id", "").startswith("paper:")]
    assert shown == ["2401.99992"]
    assert "not an arXiv id or URL: '&lt;2401.99992&gt;'" in refused and not _unescaped(refused)


# ---- 8. signed but malformed interaction payloads: acked, one log line, nothing stored ----------
def _block_actions(actions, **over) -> dict:
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"}, "api_app_id": "A1",
               "trigger_id": "t1", "container": {"type": "view", "view_id": "V1"}, "actions": actions}
    payload.update(over)
    return payload


def _button(action_id: str, value) -> dict:
    return {"type": "button", "action_id": action_id, "block_id": "b", "value": value, "action_ts": "1.000001"}


def test_malformed_interactions_are_acked_logged_once_and_store_nothing(tmp_path, seeded, slack_fake, monkeypatch,
                                                                       caplog):
    import logging
    import time
    from urllib.parse import urlencode
    aid = next(iter(seeded.iter_papers())).arxiv_id
    no_user = [{k: v for k, v in _block_actions([_button(a, v)]).items() if k != "user"}
               for a, v in (("home_refresh", "refresh"), ("home_dm_toggle", "on"),
                            ("home_unfollow", "author:Ann"), ("home_follow_collection:0", "rlhf_code"),
                            ("feedback_up", aid))]
    object_values = [_block_actions([_button(a, {"x": 1})], response_url=slack_fake.base + "/response/obj")
                     for a in ("feedback_up", "feedback_down", "more_like_this", "home_unfollow",
                               "home_follow_collection:1", "home_dm_toggle")]
    no_actions = [_block_actions([]), _block_actions([1]), _block_actions("x")]
    no_response_url = _block_actions([_button("feedback_up", aid)],  # an ephemeral result can only be answered
                                     container={"type": "message", "is_ephemeral": True, "channel_id": "C1",
                                                "message_ts": "1.0"},
                                     message={"ts": "1.0", "blocks": [{"type": "divider"}]})
    caplog.set_level(logging.WARNING)
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        statuses = []
        for payload in [*no_user, *object_values, *no_actions, no_response_url]:
            resp = bot.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
            statuses.append(resp.status_code)
        for text in ("subscribe rlhf_code", "profile", "digest now"):  # a command with no response_url
            form = {"command": "/papers", "text": text, "user_id": "U1", "channel_id": "C1", "team_id": "T1"}
            statuses.append(bot.post(urlencode(form), "application/x-www-form-urlencoded").status_code)
        time.sleep(1.0)  # the listeners run after the ack; give them time to (not) act
    assert statuses == [200] * len(statuses)
    traced = [r.getMessage() for r in caplog.records if r.exc_info]
    assert traced == []
    bolt_errors = [r.getMessage() for r in caplog.records if r.name.startswith("slack_bolt")]
    assert bolt_errors == []  # no "failed to run listener", "didn't call ack()", "unhandled request"
    ours = [r for r in caplog.records if r.name.startswith("bot.")]
    assert len(ours) == len(statuses)  # one line per request
    assert seeded.feedback_count() == 0 and seeded.follows("U1") == {} and seeded.channels() == []
    assert seeded.user_settings("U1") == {}
    assert [c["method"] for c in slack_fake.calls if c["method"] != "auth.test"] == []


# ---- 9. a subscription that could match nothing is refused -----------------------------------------
NO_WORD_REFUSAL = ("“{}” has no word to match papers on (only common words, punctuation, emoji or mentions). "
                   "usage: `/papers subscribe &lt;collection | keywords&gt;` or `/papers subscribe keywords &lt;words&gt;`")


@pytest.mark.parametrize("sent,keyword", [("the and of", "the and of"), ("reward model, the", "the"),
                                          ("C+", "C+"), ("<@U123>", "&lt;@U123&gt;")])
def test_subscribe_to_stop_words_only_is_refused_and_creates_no_digest(tmp_path, seeded, slack_fake, monkeypatch,
                                                                       sent, keyword):
    """Keywords that name no collection are refused as before the names were read first: the
    same message, now answered (only to the user) after the ack; nothing is followed."""
    seeded.add_to_collection("the", seeded.collection_ids("rlhf_code")[:1])  # `the and of` is not it
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        for user, channel, channel_name in (("U1", "C8", "general"), ("U4", "D4", "directmessage")):
            _, rid = bot.command(f"subscribe {sent}", user=user, channel=channel, channel_name=channel_name)
            refused = bot.wait_response(rid)
            assert refused["response_type"] == "ephemeral" and refused["text"] == NO_WORD_REFUSAL.format(keyword)
    assert seeded.follows("C8") == {} and seeded.follows("U4") == {} and seeded.channels() == []


@pytest.mark.parametrize("name,typed", [("C++", "c++"), ("🤖", "🤖"), ("#1", "#1"), ("the", "The"),
                                        ("c++/the", "C++/The")])
def test_a_collection_named_without_a_content_word_is_followed_and_unfollowed(tmp_path, seeded, slack_fake,
                                                                              monkeypatch, name, typed):
    """`/papers subscribe C++` was refused as keywords ("has no word to match papers on") before
    the collection names were looked at, so a collection named `C++`, `🤖`, `#1` or `the` (as
    `paperbot import` names them after awesome-list headings) could not be followed from Slack."""
    seeded.add_to_collection(name, seeded.collection_ids("rlhf_code")[:3])
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command(f"subscribe {typed}", channel="C8", channel_name="cpp")
        out = bot.wait_response(rid)
        assert out["response_type"] == "in_channel", out
        assert out["text"].startswith(f"This channel now follows collection `{name}`. Digest schedule: ")
        assert seeded.follows("C8") == {"collection": [name]} and bot.service.channel_config("C8") is not None
        _, rid = bot.command(f"subscribe {typed}", user="U4", channel="D4", channel_name="directmessage")
        assert bot.wait_response(rid)["text"] == f"You now follow collection `{name}`."
        assert seeded.follows("U4") == {"collection": [name]}
        _, rid = bot.command(f"unsubscribe {typed}", channel="C8")
        assert bot.wait_response(rid)["text"].startswith(f"Unfollowed “{name}”.")
        _, rid = bot.command(f"unsubscribe {typed}", user="U4", channel="D4", channel_name="directmessage")
        assert bot.wait_response(rid)["text"] == f"Unfollowed “{name}”."
    assert seeded.follows("C8") == {} and seeded.follows("U4") == {}


def test_a_near_miss_without_a_content_word_suggests_the_collection_but_not_the_keywords_form(
        tmp_path, seeded, slack_fake, monkeypatch):
    """Names are read before keywords, so `c+/the` (no word to match papers on) is answered as a
    near miss of the collection `c++/the`; the keywords form would be refused, so it is not offered."""
    seeded.add_to_collection("c++/the", seeded.collection_ids("rlhf_code")[:3])
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command("subscribe c+/the", channel="C8")
        refused = bot.wait_response(rid)
    assert refused["response_type"] == "ephemeral"
    assert refused["text"] == ("There is no collection “c+/the”: did you mean `c++/the`? "
                               "`/papers subscribe c++/the` follows it. Nothing was changed.")
    assert seeded.follows("C8") == {} and seeded.channels() == []



def test_a_near_miss_of_a_collection_name_is_echoed_escaped(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        # what Slack sends for: /papers subscribe rlhf_code<  (a near miss of rlhf_code)
        _, rid = bot.command("subscribe rlhf_code&lt;", channel="C8")
        refused = bot.wait_response(rid)["text"]
    assert "no collection “rlhf_code&lt;”: did you mean `rlhf_code`?" in refused
    assert "`/papers subscribe keywords rlhf_code&lt;`" in refused and not _unescaped(refused)
    assert seeded.follows("C8") == {} and seeded.channels() == []

# ---- 11. unsubscribe says when the config file still follows it; /papers digest shows follows ---
def test_unsubscribe_of_a_config_follow_says_it_stays_and_digest_shows_the_follows(tmp_path, seeded, slack_fake,
                                                                                   monkeypatch):
    from paperbot.config import ChannelConfig
    cfg = make_config(tmp_path, [ChannelConfig(id="C5", name="#cfg", collections=["rlhf_code"])])
    with BotServer(cfg, seeded, slack_fake, monkeypatch) as bot:
        for text in ("subscribe rlhf_code", "subscribe PPO &amp; RLHF"):  # also stored from Slack
            _, rid = bot.command(text, channel="C5")
            bot.wait_response(rid)
        _, rid = bot.command("digest", channel="C5")
        shown = bot.wait_response(rid)["text"]
        _, rid = bot.command("unsubscribe rlhf_code", channel="C5")
        first = bot.wait_response(rid)["text"]
        _, rid = bot.command("unsubscribe PPO &amp; RLHF", channel="C5")
        keyword = bot.wait_response(rid)["text"]
        _, rid = bot.command("digest", channel="C5")
        after = bot.wait_response(rid)["text"]
    assert "Follows collection `rlhf_code` (config file), keyword “PPO &amp; RLHF”." in shown
    assert not first.startswith("Unfollowed") and "comes from the config file" in first
    assert "still follows it" in first
    assert keyword == "Unfollowed “PPO &amp; RLHF”."
    assert after.endswith("Follows collection `rlhf_code` (config file).")
    assert seeded.follows("C5") == {}


# ---- the digest message's own `text` (notification / fallback) --------------------------------
def test_digest_notification_text_escapes_typed_keywords_and_is_capped(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        # what Slack sends for: /papers subscribe reward model <!channel> <https://evil.example|click>
        _, rid = bot.command("subscribe reward model &lt;!channel&gt; &lt;https://evil.example|click&gt;")
        bot.wait_response(rid)
        _, rid = bot.command("digest now")
        assert bot.wait_response(rid, 60)["text"].startswith("Digest posted")
        for i in range(300):  # 300 follows: the notification stays one short line
            seeded.add_follow("C1", "keyword", f"policy gradient variant number {i}")
        time.sleep(1.1)  # `digest now` slots are per second
        _, rid = bot.command("digest now")
        assert bot.wait_response(rid, 60)["text"].startswith("Digest posted")
    first, second = (c["args"]["text"] for c in slack_fake.calls_to("chat.postMessage")
                     if not c["args"].get("thread_ts"))
    assert "&lt;!channel&gt; &lt;https://evil.example|click&gt;" in first
    for text in (first, second):
        assert "<!channel>" not in text and "<https://evil.example" not in text
        assert not _unescaped(text), text
    assert len(second) <= 300 and second.endswith("…")

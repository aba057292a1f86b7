"""A store whose papers give TF-IDF no term (only stop words, formulas, punctuation): no model can
be fitted (`recommender.tfidf.EmptyVocabulary`), so every digest is empty and says why, the App
Home renders, and the service does not refit the model on every call until the store changes."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from feeds.arxiv_rss import parse_feed
from feeds.records import Paper
from paperbot.cli import main
from paperbot.config import ChannelConfig
from paperbot.digests import NO_VOCABULARY
from recommender.tfidf import TfidfModel
from tests.bot_harness import BotServer, make_config, wait_for
from tests.conftest import fixture_path, write_config

STOP_WORDS_FEED = fixture_path("arxiv_rss", "atom_stop_words_only.xml")


def _config(tmp_path: Path) -> Path:
    """A config whose one feed holds only stop-word papers (no HF request: nothing leaves 127.0.0.1)."""
    return write_config(tmp_path, rss=[("cs.AI", ["cs.AI"], STOP_WORDS_FEED.as_uri())],
                        channels=[dict(id="C0STOP", name="#stop", keywords=["reward model"])])


def _blocks_text(call: dict) -> str:
    blocks = call["args"]["blocks"]
    return blocks if isinstance(blocks, str) else json.dumps(blocks, ensure_ascii=False)


def _count_fits(monkeypatch) -> list[int]:
    """Record the number of papers of every TF-IDF fit (`TfidfModel.fit_sampled`, what
    `recommender.matrix_cache.refresh` fits with)."""
    fits: list[int] = []
    real = TfidfModel.fit_sampled.__func__

    def counting(cls, texts, *args, **kw):
        fits.append(len(texts))
        return real(cls, texts, *args, **kw)

    monkeypatch.setattr(TfidfModel, "fit_sampled", classmethod(counting))
    return fits


def test_run_once_on_stop_word_papers_posts_an_empty_digest_saying_why(tmp_path, slack_fake, monkeypatch):
    """`paperbot run --once` died with the EmptyVocabulary traceback after polling."""
    monkeypatch.chdir(tmp_path)
    cfg = _config(tmp_path)
    printed = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg)])  # no token: printed
    assert printed.exit_code == 0, printed.output
    assert "Traceback" not in printed.output and "source cs.AI: 3 papers (3 new" in printed.stderr
    assert "channel C0STOP: printed (0 papers)" in printed.stderr
    assert "=== Paper digest · #stop · " in printed.stdout and NO_VOCABULARY in printed.stdout

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    posted = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg)])
    assert posted.exit_code == 0, posted.output
    assert "channel C0STOP: posted (0 papers)" in posted.stderr
    (post,) = slack_fake.calls_to("chat.postMessage")
    assert post["args"]["channel"] == "C0STOP" and NO_VOCABULARY in _blocks_text(post)


def test_service_digests_and_app_home_without_vocabulary_fit_once_until_the_store_changes(
        tmp_path, store, slack_fake, monkeypatch):
    """Scheduled and `/papers digest now` digests (channel and DM) and the App Home raised
    EmptyVocabulary ("Sorry, something went wrong", no digest, no Home tab), each after
    reading and fitting every stored paper again."""
    store.upsert_papers(parse_feed(STOP_WORDS_FEED.read_bytes()).papers)
    fits = _count_fits(monkeypatch)
    cfg = make_config(tmp_path, [ChannelConfig(id="C9", name="#stop", keywords=["reward model"])])
    with BotServer(cfg, store, slack_fake, monkeypatch) as bot:
        bot.service.scheduler.start(catch_up=False)
        bot.service.scheduler.run_now("C9")  # the scheduled digest
        wait_for(lambda: slack_fake.posted("C9"), what="scheduled digest")
        _, rid = bot.command("digest now", channel="C9")
        assert bot.wait_response(rid)["text"] == "Digest posted: 0 papers."
        _, rid = bot.command("digest now", user="U4", channel="D4", channel_name="directmessage")
        assert bot.wait_response(rid)["text"] == "Digest posted: 0 papers."
        bot.event({"type": "app_home_opened", "user": "U4", "tab": "home", "channel": "D4"}, "EvH1")
        wait_for(lambda: slack_fake.calls_to("views.publish"), what="views.publish")
        posts = slack_fake.calls_to("chat.postMessage")
        assert [p["args"]["channel"] for p in posts] == ["C9", "C9", "U4"]
        assert all(NO_VOCABULARY in _blocks_text(p) for p in posts)
        home = json.dumps(slack_fake.calls_to("views.publish")[0]["args"]["view"], ensure_ascii=False)
        assert "Top profile terms:* none yet" in home
        assert fits == [3]  # one failed fit for the four calls: remembered while the store is unchanged

        store.upsert_papers([Paper("2508.99994", "Reward models for code generation",
                                   "We train reward models on unit test outcomes.", sources=["arxiv_rss"])])
        assert bot.service.model() is not None and fits == [3, 4]  # a new paper: fitted again, with terms


def test_app_home_of_someone_who_follows_things_says_why_there_are_no_profile_terms(
        tmp_path, store, slack_fake, monkeypatch):
    """The App Home told a person who follows keywords and a collection "none yet — follow a
    collection or 👍 a paper" while the stored papers gave TF-IDF no term: to do what they had
    done. It now says why (nothing indexable is stored yet); the advice stays for someone who
    follows nothing."""
    papers = parse_feed(STOP_WORDS_FEED.read_bytes()).papers
    store.upsert_papers(papers)
    store.add_to_collection("rlhf_code", [p.arxiv_id for p in papers])
    dm = {"user": "U5", "channel": "DU5", "channel_name": "directmessage"}
    with BotServer(make_config(tmp_path), store, slack_fake, monkeypatch) as bot:
        for text in ("subscribe reward model", "subscribe rlhf_code"):
            _, rid = bot.command(text, **dm)
            assert bot.wait_response(rid)["text"].startswith("You now follow")
        follows = bot.open_home("U5", "EvH5")
        nothing = bot.open_home("U6", "EvH6")
        _, rid = bot.command("profile", **dm)
        profile = bot.wait_response(rid)["text"]
    # `/papers profile` gives the same reason
    assert "*Top terms:* none yet — the stored papers have no words the recommender can index" in profile
    assert "Top profile terms:* none yet — the stored papers have no words the recommender can index" in follows
    assert "they appear once papers with real titles or abstracts are stored" in follows
    assert "follow a collection or 👍 a paper" not in follows
    assert "Top profile terms:* none yet — follow a collection or 👍 a paper." in nothing

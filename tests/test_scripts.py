"""The scripts the README tells you to run by hand (bench/, tools/), as a user runs them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], env_extra: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(PYTHONPATH=str(ROOT), **(env_extra or {}))
    return subprocess.run([sys.executable, *args], check=False, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_dm_digests_bench_never_posts_to_slack_even_with_a_token_set(slack_fake):
    """bench/dm_digests.py builds the demo store with `run_once`; it took the poster from the
    environment, so with SLACK_BOT_TOKEN set (a bot's host) the timing run posted the demo's
    digest to a channel named #rl-for-code."""
    res = _run(["bench/dm_digests.py", "2"], {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_API_URL": slack_fake.url})
    assert res.returncode == 0, res.stderr
    assert "2 DM digests:" in res.stdout
    assert slack_fake.calls == []


SCRIPTS = [("bench/search_bench.py", "ten"), ("bench/dm_digests.py", "ten"),
           ("tools/make_demo_data.py", "/no/such/shared/data")]


def test_hand_run_scripts_answer_help_and_bad_arguments_without_a_traceback(tmp_path):
    """`--help` (or a mistyped argument) was read as a number or a folder: a ValueError or
    FileNotFoundError traceback instead of a usage line."""
    for script, bad in SCRIPTS:
        res = _run([script, "--help"], timeout=60)
        assert res.returncode == 0 and res.stdout.startswith("usage: "), (script, res.stdout, res.stderr)
        assert "Traceback" not in res.stderr, (script, res.stderr)
        wrong = _run([script, bad], timeout=60)
        assert wrong.returncode == 2 and "Traceback" not in wrong.stderr, (script, wrong.stderr)
        assert bad in wrong.stderr, (script, wrong.stderr)  # the error names what was wrong


def test_bench_scripts_without_the_shared_data_say_so_and_exit_0(tmp_path):
    """bench/run.py and bench/ranker_research.py say where they looked and exit 0 when the shared
    data is missing; bench/day_scores.py and bench/digest_vs_eval.py (both named in the README)
    ended in a FileNotFoundError traceback, and did not read PAPERBOT_DATA."""
    for script in ("bench/day_scores.py", "bench/digest_vs_eval.py"):
        for args, env in (([f"--data={tmp_path}"], {}), ([], {"PAPERBOT_DATA": str(tmp_path)})):
            res = _run([script, *args], env, timeout=60)
            assert res.returncode == 0 and "Traceback" not in res.stderr, (script, args, res.stderr)
            assert "skipped" in res.stdout and str(tmp_path) in res.stdout and "PAPERBOT_DATA" in res.stdout, \
                (script, args, res.stdout)

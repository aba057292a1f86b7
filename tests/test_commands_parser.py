"""`bot.commands_parser` on text as Slack sends it: any string gives a `Command` or a
`UsageError`, never another exception."""
from __future__ import annotations

import sys

import pytest

from bot.commands_parser import Command, UsageError, parse_command

UNICODE_DIGITS = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isdigit() and not chr(c).isascii()]


@pytest.mark.parametrize("template", [
    "digest size {d}", "digest size 1{d}", "digest schedule daily {d}:00", "digest schedule weekdays 9:{d}{d}",
    "digest schedule {d} 9 * * *", "digest schedule 0 {d} * * mon-fri",
])
def test_unicode_digits_get_the_usage_line_not_a_crash(template):
    assert "²" in UNICODE_DIGITS and "٣" in UNICODE_DIGITS and len(UNICODE_DIGITS) > 100
    for d in UNICODE_DIGITS:
        with pytest.raises(UsageError) as exc:
            parse_command(template.format(d=d))
        assert "usage: `/papers digest" in str(exc.value), (template, d)


def test_ascii_digits_still_parse():
    assert parse_command("digest size 12") == Command("digest_size", 12)
    assert parse_command("digest schedule daily 07:05") == Command("digest_schedule", "5 7 * * *")

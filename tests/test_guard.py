"""xieshang.guard: input cleaning, repeats, rate limit (plain Python, no model)."""
import logging
import re

import pytest

from xieshang import guard
from xieshang.guard import (
    EMPTY, MAX_CHARS, RATE_LIMITED, REPEATED, TOO_LONG, Guard, RateLimiter, RepeatDetector, clean_input,
    log_safe, sender_ref,
)

HAN = re.compile(r"[\u4e00-\u9fff]")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_texts_are_chinese():
    for line in (EMPTY, TOO_LONG, REPEATED, RATE_LIMITED, guard.APOLOGY, guard.UNREADABLE):
        assert HAN.search(line) and len(line) < 80
    assert TOO_LONG.startswith("消息太长，我先看了前面一部分")
    assert guard.APOLOGY == "抱歉，我这边出了点问题，请稍后再试，你说的内容没有丢。"


@pytest.mark.parametrize("raw", ["", "   ", "\n\t \r\n", None, "\u200b\u200b", "\x00\x01", b"", b"\xff\xfe\xfa"])
def test_empty_and_whitespace(raw):
    assert clean_input(raw) == ("", None)


def test_plain_text_unchanged():
    assert clean_input("我借呗逾期了三个月") == ("我借呗逾期了三个月", None)
    assert clean_input("  我还不上了  ") == ("我还不上了", None)
    assert clean_input("😭😭😭") == ("😭😭😭", None)
    assert clean_input("I can't pay my loan") == ("I can't pay my loan", None)
    # family emoji keeps its zero-width joiners
    assert clean_input("👨\u200d👩\u200d👧") == ("👨\u200d👩\u200d👧", None)


def test_long_text_truncated_keeping_start():
    text = "催收天天打电话" + "啊" * 10_000
    out, note = clean_input(text)
    assert note == TOO_LONG
    assert len(out) == MAX_CHARS
    assert out.startswith("催收天天打电话")
    assert clean_input("啊" * MAX_CHARS) == ("啊" * MAX_CHARS, None)


def test_invalid_utf8_and_control_characters_dropped():
    assert clean_input(b"\xe6\x88\x91\xff\xe9\x80\xbe\xe6\x9c\x9f\xe4\xba\x86\xc3") == ("我逾期了", None)
    assert clean_input("我\x00逾\x07期\x1b了\ufffd") == ("我逾期了", None)
    # lone surrogates (valid JSON "\ud800", invalid Unicode) would crash any UTF-8 encoder later
    out, _ = clean_input("我\ud800逾期\udcff了")
    assert out == "我逾期了"
    out.encode("utf-8")
    # bidi override and zero-width characters are invisible tricks
    assert clean_input("借\u202e呗\u200b\ufeff") == ("借呗", None)


def test_newlines_kept_but_collapsed():
    assert clean_input("第一行\r\n\r\n\r\n\r\n第二行\t 有空格 ") == ("第一行\n\n第二行  有空格", None)


def test_never_raises_on_odd_types():
    assert clean_input(12345) == ("12345", None)
    assert clean_input(["x"])[0] == "['x']"


def test_repeat_detector_third_identical_within_window():
    clock = Clock()
    rep = RepeatDetector(clock=clock)
    assert not rep.seen("a", "救命")
    clock.t += 10
    assert not rep.seen("a", "救命")
    assert not rep.seen("b", "救命")  # per sender
    assert not rep.seen("a", "别的话")
    clock.t += 10
    assert rep.seen("a", "救命")  # third within 60 s
    assert rep.seen("a", "救命")
    clock.t += 61
    assert not rep.seen("a", "救命")  # the window has passed


def test_rate_limiter_token_bucket():
    clock = Clock()
    rl = RateLimiter(per_minute=20, clock=clock)
    assert all(rl.allow("u") for _ in range(20))
    assert not rl.allow("u")
    assert rl.allow("other")  # per sender
    clock.t += 3  # 20/min = one every 3 s
    assert rl.allow("u")
    assert not rl.allow("u")
    clock.t += 60
    assert sum(rl.allow("u") for _ in range(30)) == 20  # never more than the burst


def test_rate_limiter_env_and_disable(monkeypatch):
    monkeypatch.setenv("XIESHANG_RATE_LIMIT", "5")
    assert RateLimiter().per_minute == 5
    monkeypatch.setenv("XIESHANG_RATE_LIMIT", "abc")
    assert RateLimiter().per_minute == 20
    monkeypatch.setenv("XIESHANG_RATE_LIMIT", "0")
    rl = RateLimiter()
    assert all(rl.allow("u") for _ in range(1000))


def test_state_is_bounded():
    rl = RateLimiter(per_minute=1, max_senders=100)
    for i in range(1000):
        rl.allow(f"s{i}")
    assert len(rl._buckets) == 100
    rep = RepeatDetector(max_senders=10)
    for i in range(100):
        rep.seen(f"s{i}", "x")
    assert len(rep._seen) == 10


def test_guard_screen():
    clock = Clock()
    g = Guard(RateLimiter(per_minute=5, clock=clock), RepeatDetector(clock=clock))
    assert g.screen("u", "   ").reply == EMPTY
    s = g.screen("u", "我" * 3000)
    assert s.reply is None and s.notes == [TOO_LONG] and len(s.text) == MAX_CHARS
    g.screen("u", "在吗")
    s = g.screen("u", "在吗")
    assert s.notes == []
    s = g.screen("u", "在吗")
    assert s.notes == [REPEATED] and s.text == "在吗" and s.reply is None
    s = g.screen("u", "在吗")
    assert s.reply == RATE_LIMITED  # 6th message in the same instant, limit 5


def test_logs_never_show_identifiers(caplog):
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    g = Guard(RateLimiter(per_minute=1, clock=clock), RepeatDetector(clock=clock))
    for _ in range(4):
        g.screen("13812345678", "我的卡号6222020200112233446")
    assert caplog.records  # something was logged (rate limit)
    assert "13812345678" not in caplog.text and "6222020200112233446" not in caplog.text
    assert sender_ref("13812345678") != sender_ref("13812345679")
    assert "13812345678" not in log_safe("电话13812345678")


@pytest.mark.parametrize("text", ["跳过", "跳过。", "好的", "OK", "2000", "1.2万", "两千", "/affirm", "不知道"])
def test_short_answers_are_not_repeats(text):
    rep = RepeatDetector(clock=Clock())
    assert guard.repeatable(text)
    assert not any(rep.seen("u", text) for _ in range(5))


def test_real_sentences_are_repeats():
    assert not guard.repeatable("在吗")
    assert not guard.repeatable("催收又打电话了")

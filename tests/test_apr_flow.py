"""The rate calculator in the dialogue: parsing the three answers, and the form end to end."""
import pytest

from actions.apr import _money, parse_term
from conftest import texts


@pytest.mark.parametrize("text,yuan", [
    ("一共还4000", 4000), ("到手8000", 8000), ("每月还1000", 1000), ("一万二", 12000), ("8千", 8000),
    ("还1500块", 1500), ("一次还清3300", 3300), ("到手2.5万", 25000), ("不知道", None), ("", None),
])
def test_money_answers(text, yuan):
    assert _money(text) == yuan


@pytest.mark.parametrize("text,term", [
    ("12期", {"periods": 12, "period_days": 30}), ("7天", {"periods": 1, "days": 7}),
    ("两周", {"periods": 1, "days": 14}), ("24", {"periods": 24, "period_days": 30}),
    ("每周一期，4期", {"periods": 4, "period_days": 7}), ("两年", {"periods": 24, "period_days": 30}),
    ("随便", None),
])
def test_term_answers(text, term):
    assert parse_term(text) == term


@pytest.mark.e2e
def test_rate_form_end_to_end(servers):
    s = "flow-apr-1"
    servers.say(s, "借呗欠了两万，每个月最多还两千")
    assert "到手" in texts(servers.say(s, "帮我算一下年化利率"))
    servers.say(s, "到手8000")
    servers.say(s, "每月还1000")
    text = texts(servers.say(s, "12期"))
    assert "82.4%" in text and "第二条" in text  # IRR of 8000 → 12 × 1000, with the 24% rule cited
    import json
    import urllib.request

    tracker = json.loads(urllib.request.urlopen(f"{servers.url}/conversations/{s}/tracker?token={servers.token}").read())
    # the form's answers did not overwrite what the user said about the debt
    assert tracker["slots"]["amount"] == 20000 and tracker["slots"]["monthly_payment"] == 2000


@pytest.mark.e2e
def test_seven_day_loan_is_flagged(servers):
    s = "flow-apr-2"
    servers.say(s, "/calc_apr")
    servers.say(s, "到手3000")
    servers.say(s, "一共还4000")
    text = texts(servers.say(s, "7天"))
    assert "36%" in text and "4,000" in text

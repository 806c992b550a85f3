"""Negotiation documents (xieshang/negotiation.py, content/negotiation.yml): fast, no Rasa.

The documents must carry the user's own platform and numbers, cite the law only through the fact
base, be complete (no unresolved markers or template fields) and never crash on odd input. The
calendar file must be valid iCalendar (RFC 5545): checked structurally, and with the ``icalendar``
package when it is installed.
"""
from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from xieshang import negotiation as N
from xieshang import plan as P
from xieshang.content import load
from xieshang.facts import all_facts, cite, markers

TODAY = date(2026, 3, 5)
C = load("negotiation")
LEFTOVER = re.compile(r"\[\[|\]\]|\{[A-Za-z_]*\}|\bNone\b")
MESSAGE_MAX_CHARS = 350  # one lender's message, realistic input: about one phone screen
MESSAGE_MAX_LINES = 12


def make(debts, **kw):
    return P.make_plan(P.Situation(debts=debts, **kw), TODAY)


def jiebei(**kw):
    kw.setdefault("monthly_payment", 2000)
    kw.setdefault("hardship_reason", "失业")
    return make([P.Debt("借呗", 12000, 10)], **kw)


def card(amount=50000, pay=2000, **kw):
    return make([P.Debt("招商银行信用卡", amount, 40, kind="bank_card")], monthly_payment=pay, **kw)


def three(**kw):
    debts = [P.Debt("借呗", 12000, 10), P.Debt("花呗", 5000, 10), P.Debt("微粒贷", 3000, 10)]
    return make(debts, monthly_payment=2000, hardship_reason="生病住院", **kw)


def complete(text: str) -> str:
    m = LEFTOVER.search(text)
    assert not m, f"unresolved {m.group(0)!r} in: {text}"
    return text


def all_docs(p):
    docs = [N.call_script(p), N.lender_message(p), N.plan_ics(p)]
    letter = N.card_cover_letter(p)
    return docs + ([letter] if letter else [])


# ------------------------------------------------------------------------------ call script


def test_call_script_has_every_section_with_the_users_numbers():
    doc = N.call_script(jiebei(recovery="下个月发工资"), name="张三")
    text = complete(doc.text)
    assert doc.title == "协商电话稿：借呗" and doc.meta["platforms"] == ["借呗"]
    positions = [text.index(title) for title in C["call_script"]["sections"].values()]
    assert positions == sorted(positions), "sections out of order"
    # opening: who, which platform, how much, how late
    assert "我是张三，在借呗有借款，现在待还 12000 元，已经逾期 10 天" in text
    # hardship with its cause
    assert "我失业了" in text and "每月最多能拿出 2000 元" in text
    # the concrete proposal: amount, periods, start date
    assert "借呗：我申请分 6 期，每月还 2000 元，从 2026年4月10日开始" in text
    # extension as the fallback, with the user's reason
    assert "延到 2026年4月5日" in text and "下个月发工资" in text
    # fee waiver ask
    assert "停止计算罚息、复利和违约金" in text
    # written confirmation
    assert "书面确认" in text and "工号" in text


def test_call_script_third_party_request_cites_the_law_from_facts():
    text = N.call_script(jiebei()).text
    section = text.split(C["call_script"]["sections"]["third_party"])[1].split(C["call_script"]["sections"]["confirm"])[0]
    assert "不要联系我的家人、同事和朋友" in section
    for fid in ("1.2", "1.18", "1.15", "1.20"):
        assert cite(fid) in section and all_facts()[fid].is_law
    # industry norms are named as norms, and are not laws
    for fid in C["norms_by_kind"]["online"]:
        assert cite(fid) in section and not all_facts()[fid].is_law
    assert "行业规范" in section
    assert cite("2.11") not in section  # the bank rule is only for banks


def test_every_law_cited_in_the_third_party_request_is_law_and_norms_are_not():
    for key in ("third_party_law", "third_party_bank_law"):
        for fid in markers(C["call_script"][key]):
            assert all_facts()[fid].is_law, fid
    for kind, ids in C["norms_by_kind"].items():
        for fid in ids:
            assert not all_facts()[fid].is_law, (kind, fid)


def test_call_script_pushbacks_have_answers_with_numbers():
    text = N.call_script(jiebei()).text
    pushbacks = text.split(C["call_script"]["sections"]["pushbacks"])[1].split(C["call_script"]["sections"]["refused"])[0]
    for quote in ("「必须全额还清」", "「最多只能分 3 期」", "「先还一部分才能协商」", "「不还就起诉你」", "「再不还就联系你家人/单位」"):
        assert quote in pushbacks
    assert pushbacks.count("\n→ ") == 5
    assert "一次拿不出 12000 元" in pushbacks and "每月 2000 元、分 6 期" in pushbacks
    assert "分 3 期每期要 4000 元" in pushbacks  # 12000 / 3
    assert "先还 2000 元" in pushbacks
    assert cite("5.8") in pushbacks  # check a "court" call through 12368


def test_call_script_short_plan_accepts_three_periods():
    text = N.call_script(jiebei(monthly_payment=5000)).text
    assert "3 期以内（3 期）" in text


def test_call_script_what_to_do_if_refused():
    text = N.call_script(jiebei()).text
    refused = text.split(C["call_script"]["sections"]["refused"])[1]
    assert "工号" in refused and "给平台的留言" in refused
    assert cite("5.4") in refused and cite("5.6") in refused  # online lender: NIFA; threats: police
    assert "不要转到任何个人账户" in refused


def test_call_script_for_a_bank_card_cites_the_bank_rules_and_12378():
    text = complete(N.call_script(card()).text)
    assert cite("2.11") in text and cite("5.1") in text
    assert cite(C["norms_by_kind"]["bank_card"][0]) in text
    assert "招商银行信用卡：我申请分 25 期，每月还 2000 元" in text


def test_call_script_when_nothing_is_affordable():
    text = complete(N.call_script(jiebei(monthly_payment=0)).text)
    assert "延到 2026年6月5日" in text and "拿不出钱" in text
    assert not re.search(r"(?<![0-9])0 元", text)  # never "I can pay 0 yuan a month"


def test_call_script_when_installments_do_not_fit():
    text = complete(N.call_script(make([P.Debt("借呗", 100000)], monthly_payment=1000)).text)
    assert "每月最多能还 1000 元，按这个要分 100 期" in text and "36 期，每月约 2778 元" in text


def test_call_script_several_lenders_and_one_of_them():
    p = three()
    text = complete(N.call_script(p).text)
    for name, monthly in (("借呗", 1200), ("花呗", 500), ("微粒贷", 300)):
        assert f"{name}：我申请分 10 期，每月还 {monthly} 元" in text
    assert "借呗现在待还 12000 元" in text and "打给哪家说哪家" in text
    only = complete(N.call_script(p, platform="花呗").text)
    assert "花呗" in only and "借呗" not in only and "微粒贷" not in only
    assert "一次拿不出 5000 元" in only and "每月 500 元、分 10 期" in only
    with pytest.raises(KeyError):
        N.call_script(p, platform="美团借钱")


def test_call_script_unknowns_become_placeholders():
    text = complete(N.call_script(make([P.Debt()])).text)
    for ph in ("【姓名】", "【平台名称】", "【待还金额】", "【困难原因】", "【每月金额】"):
        assert ph in text


# ------------------------------------------------------------------------------ written message


def test_message_is_short_and_carries_platform_and_numbers():
    doc = N.lender_message(jiebei(), name="张三")
    text = complete(doc.text)
    assert doc.title == "给借呗的留言"
    assert text.startswith("借呗客服您好")
    for want in ("借款待还 12000 元", "已逾期 10 天", "因为失业", "分 6 期还款，每月 2000 元，自 2026年4月10日起每月 10 日还",
                 "停止计算罚息、复利和违约金", cite("1.2"), "书面回复", "张三　2026年3月5日"):
        assert want in text
    assert len(text) <= MESSAGE_MAX_CHARS and text.count("\n") + 1 <= MESSAGE_MAX_LINES


def test_message_for_several_lenders_is_one_short_message_each():
    p = three()
    doc = N.lender_message(p)
    parts = complete(doc.text).split(C["lender_message"]["separator"])
    assert len(parts) == 3
    for part, (name, amount, monthly) in zip(parts, [("借呗", 12000, 1200), ("花呗", 5000, 500), ("微粒贷", 3000, 300)]):
        assert part.startswith(f"{name}客服您好") and f"{amount} 元" in part and f"每月 {monthly} 元" in part
        assert len(part) <= MESSAGE_MAX_CHARS
    one = N.lender_message(p, platform="微粒贷")
    assert one.title == "给微粒贷的留言" and C["lender_message"]["separator"] not in one.text


def test_message_stays_phone_sized_with_long_input():
    p = make([P.Debt("某某某某消费金融有限公司", 10**9, 999)], monthly_payment=1, hardship_reason="长" * 60)
    text = complete(N.lender_message(p).text)
    assert len(text) <= 450


@pytest.mark.parametrize("pay,want", [(0, "把还款延到 2026年6月5日"), (None, "分 【期数】 期还款"), (10**6, "一次还清 12000 元")])
def test_message_proposal_matches_the_plan(pay, want):
    assert want in complete(N.lender_message(jiebei(monthly_payment=pay)).text)


def test_message_with_no_platform_and_no_debts():
    for p in (make([P.Debt(None, 5000)], monthly_payment=1000), make([])):
        doc = N.lender_message(p)
        text = complete(doc.text)
        assert text.startswith("【平台名称】客服您好") and "【姓名】" in text
        assert len(text) <= MESSAGE_MAX_CHARS


# ------------------------------------------------------------------------------ bank-card cover letter


def test_cover_letter_only_for_bank_cards():
    assert N.card_cover_letter(jiebei()) is None
    assert N.card_cover_letter(three()) is None
    mixed = make([P.Debt("借呗", 12000), P.Debt("招商银行信用卡", 30000, kind="bank_card")], monthly_payment=2100)
    letter = N.card_cover_letter(mixed)
    assert letter is not None and letter.meta["platforms"] == ["招商银行信用卡"]
    assert "借呗" not in letter.text


def test_cover_letter_cites_7_5_and_asks_rather_than_claims():
    doc = N.card_cover_letter(card(50000, 2000, hardship_reason="生病住院"), name="李四")
    text = complete(doc.text)
    assert doc.title == "招商银行信用卡个性化分期申请书"
    assert "招商银行信用卡中心" in text and "信用卡信用卡" not in text
    assert cite("7.5") in text and cite("2.11") in text
    assert "银行可以与持卡人协商" in text and "由贵行审核决定" in text  # 7.6: discretionary
    assert "分 25 期还款（不超过 60 期），每月 2000 元" in text
    assert "50000 元" in text and "已逾期 40 天" in text and "因生病住院" in text
    assert "病历" in text and "申请人：李四" in text


def test_cover_letter_when_60_periods_is_not_enough():
    text = complete(N.card_cover_letter(card(200000, 2000)).text)
    assert "按最长 60 期分期，每月约 3334 元" in text and "2000 元" in text


def test_cover_letter_generic_card_name_has_placeholder_bank():
    p = make([P.Debt("信用卡", 10000, kind="bank_card")], monthly_payment=1000)
    text = complete(N.card_cover_letter(p).text)
    assert "【银行名称】信用卡中心" in text


# ------------------------------------------------------------------------------ hardship proofs


@pytest.mark.parametrize(
    "reason,want,absent",
    [("被公司裁员", "离职证明", "病历"), ("生病住院", "诊断证明", "离职证明"), ("降薪了", "降薪通知", "病历")],
)
def test_hardship_proofs_fit_the_reason(reason, want, absent):
    text = N.hardship_proofs(jiebei(hardship_reason=reason))
    assert want in text and absent not in text
    assert "必要开支清单" in text and "伪造" in text


def test_hardship_proofs_unknown_reason_lists_every_group():
    text = N.hardship_proofs(jiebei(hardship_reason="不想说"))
    for label in C["hardship"]["proofs_labels"].values():
        assert f"{label}：" in text


def test_hardship_reason_reads_naturally():
    assert "我失业了，" in N.call_script(jiebei(hardship_reason="失业了。")).text  # not 失业了了
    assert "因为家里出事，我暂时" in N.call_script(jiebei(hardship_reason="家里出事了")).text
    assert "不想说" not in N.call_script(jiebei(hardship_reason="不想说")).text


# ------------------------------------------------------------------------------ calendar (.ics)


def unfold(ics: str):
    return ics.replace("\r\n ", "").split("\r\n")


def events(ics: str):
    lines = unfold(ics)
    out, cur = [], None
    for line in lines:
        if line == "BEGIN:VEVENT":
            cur = {}
        elif line == "END:VEVENT":
            out.append(cur)
            cur = None
        elif cur is not None and ":" in line and "ACTION" not in line and "TRIGGER" not in line:
            key, value = line.split(":", 1)
            cur.setdefault(key, value)  # the event's own DESCRIPTION comes before the alarm's
    return out


def check_ics_structure(ics: str):
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and ics.endswith("END:VCALENDAR\r\n")
    assert "\n" not in ics.replace("\r\n", ""), "bare LF or CR"
    for line in ics.split("\r\n"):
        assert len(line.encode("utf-8")) <= 75, line
    lines = unfold(ics)
    assert "VERSION:2.0" in lines and any(x.startswith("PRODID:") for x in lines)
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT")
    assert lines.count("BEGIN:VALARM") == lines.count("END:VALARM") == lines.count("BEGIN:VEVENT")
    for ev in events(ics):
        assert {"UID", "DTSTAMP", "DTSTART;VALUE=DATE", "SUMMARY"} <= set(ev)
    uids = [e["UID"] for e in events(ics)]
    assert len(uids) == len(set(uids))


def test_ics_one_event_per_payment_with_the_plans_dates():
    p = jiebei()
    doc = N.plan_ics(p)
    assert doc.mime == "text/calendar" and doc.filename.endswith(".ics")
    check_ics_structure(doc.text)
    evs = events(doc.text)
    assert len(evs) == len(p.schedule) == 6
    assert [datetime.strptime(e["DTSTART;VALUE=DATE"], "%Y%m%d").date() for e in evs] == [x.date for x in p.schedule]
    assert all(e["SUMMARY"] == "还款 借呗 2000 元" for e in evs)
    assert "借呗第 1/6 期" in evs[0]["DESCRIPTION"] and "借呗第 6/6 期" in evs[-1]["DESCRIPTION"]


def test_ics_month_end_dates():
    p = P.make_plan(P.Situation(debts=[P.Debt("借呗", 3000)], monthly_payment=1000), date(2026, 1, 2), pay_day=31)
    starts = [e["DTSTART;VALUE=DATE"] for e in events(N.plan_ics(p).text)]
    assert starts == ["20260131", "20260228", "20260331"]


def test_ics_several_lenders_same_day_in_one_event_and_long_lines_folded():
    debts = [P.Debt(f"某某某某消费金融平台{i}", 1000 * i + 1, 5) for i in range(1, 11)]
    p = make(debts, monthly_payment=5000)
    ics = N.plan_ics(p).text
    check_ics_structure(ics)
    evs = events(ics)
    dates = sorted({x.date for x in p.schedule})
    assert [e["DTSTART;VALUE=DATE"] for e in evs] == [d.strftime("%Y%m%d") for d in dates]
    for i in range(1, 11):
        assert f"某某某某消费金融平台{i} " in evs[0]["SUMMARY"]
    assert any(line.startswith(" ") for line in ics.split("\r\n"))  # folding happened


def test_ics_without_schedule_holds_the_extension_or_a_call_reminder():
    ext = events(N.plan_ics(jiebei(monthly_payment=0)).text)
    assert len(ext) == 1 and ext[0]["DTSTART;VALUE=DATE"] == "20260605" and "借呗" in ext[0]["SUMMARY"]
    call = N.plan_ics(make([P.Debt("花呗", None)]))
    check_ics_structure(call.text)
    evs = events(call.text)
    assert len(evs) == 1 and evs[0]["DTSTART;VALUE=DATE"] == "20260306" and "花呗" in evs[0]["SUMMARY"]


def test_ics_escapes_text_values():
    p = make([P.Debt("A,B;C\\D", 2000)], monthly_payment=1000)
    ics = N.plan_ics(p).text
    check_ics_structure(ics)
    assert "SUMMARY:还款 A\\,B\\;C\\\\D 1000 元" in unfold(ics)


def test_ics_parses_with_icalendar_if_installed():
    icalendar = pytest.importorskip("icalendar")
    p = three()
    cal = icalendar.Calendar.from_ical(N.plan_ics(p).text)
    starts = [c.decoded("dtstart") for c in cal.walk("VEVENT")]
    assert starts == sorted({x.date for x in p.schedule})


# ------------------------------------------------------------------------------ every output, every odd input


SCENARIOS = {
    "issue-example": lambda: jiebei(),
    "three-lenders": three,
    "bank-card": lambda: card(),
    "card-too-big": lambda: card(10**7, 100),
    "no-budget": lambda: jiebei(monthly_payment=0, recovery="半年后"),
    "zero-income": lambda: make([P.Debt("借呗", 12000)], monthly_income=0),
    "income-below-spending": lambda: make([P.Debt("借呗", 12000)], monthly_income=2000, monthly_spending=3000),
    "negative-numbers": lambda: make([P.Debt("借呗", -12000, -3)], monthly_payment=-5, monthly_income=-1),
    "huge-numbers": lambda: make([P.Debt("借呗", 10**15, 10**6)], monthly_payment=10**14),
    "tiny-payment": lambda: make([P.Debt("借呗", 12000)], monthly_payment=1),
    "missing-platform": lambda: make([P.Debt(None, 5000)], monthly_payment=1000),
    "nothing-known": lambda: make([P.Debt()]),
    "no-debts": lambda: make([]),
    "dont-know": lambda: make([P.Debt("不知道", None)], hardship_reason="不知道", recovery="不想说"),
    "ten-lenders": lambda: make([P.Debt(f"平台{i}", 999 * i, i) for i in range(10)], monthly_payment=777),
    "ten-lenders-mixed": lambda: make(
        [P.Debt(f"平台{i}", None if i % 3 == 0 else 1000 * i, None, kind="bank_card" if i % 2 else None)
         for i in range(10)], monthly_income=8000, monthly_spending=6500),
    "requested-periods": lambda: make([P.Debt("借呗", 12000)], requested_periods=100),
    "markers-in-input": lambda: make([P.Debt("借呗[[9.99]]", 1000)], hardship_reason="{reason}[[1.2]]", monthly_payment=100),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_document_is_complete(name):
    p = SCENARIOS[name]()
    complete(P.render_plan(p))
    complete(N.hardship_proofs(p))
    for doc in all_docs(p):
        assert doc.title and doc.text.strip() and doc.filename
        complete(doc.text)
        complete(doc.title)
        assert doc.to_custom()["type"] == "document"
    check_ics_structure(N.plan_ics(p).text)
    for lp in p.lenders:  # per-lender documents work for every lender of the plan
        if lp.platform:
            complete(N.call_script(p, platform=lp.platform).text)
            complete(N.lender_message(p, platform=lp.platform).text)


def test_documents_carry_the_platform_of_each_lender():
    p = SCENARIOS["ten-lenders"]()
    script, message = N.call_script(p).text, N.lender_message(p).text
    for i in range(10):
        assert f"平台{i}" in script and f"平台{i}客服您好" in message


def test_negotiation_yaml_fields_are_all_filled():
    """Every {field} used in the templates is one the code fills: a typo would raise KeyError in
    one of the scenarios above; here we also check no template was left without its data."""
    fields = set()

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str):
            fields.update(re.findall(r"\{([a-z_]+)\}", node))

    walk(C)
    assert fields <= {
        "platform", "name", "phone_tail", "amount", "overdue_part", "reason_part", "proposal", "basis",
        "today", "norms", "days", "reason", "income", "affordable", "monthly", "periods", "start",
        "pay_day", "last_part", "max", "at_max", "ext_date", "last", "three", "three_part", "first",
        "offer", "recovery", "why", "debt_part", "channels", "label", "bank", "id_number", "card_tail",
        "phone", "rule", "proofs", "items", "numbers", "number", "platforms",
    }

"""Complaints, stop-contact requests and notes: right body for the lender's kind, grounds from facts."""
import re
from datetime import date

import pytest

from xieshang import escalation
from xieshang.facts import all_facts

TODAY = date(2026, 11, 22)
UNRESOLVED = re.compile(r"\[\[|\{[a-z_]+\}")


def case(kind="online", what="昨晚11点催收打给我妈和我领导，说我诈骗，还威胁要上门", who=("家人/亲属", "同事/单位"), **kw):
    return escalation.ComplaintCase(platform=kw.pop("platform", "借呗"), platform_kind=kind, what_happened=what,
                                    who_contacted=list(who), evidence=["通话录音"], today=TODAY, **kw)


def titles(docs):
    return [d.title for d in docs]


@pytest.mark.parametrize("kind,body", [
    ("bank_card", "12378"), ("bank_loan", "12378"), ("consumer_finance", "12378"),
    ("small_loan", "地方金融管理局"), ("online", "中国互联网金融协会"), ("unknown", "中国互联网金融协会"),
])
def test_regulator_follows_lender_kind(kind, body):
    docs = escalation.complaint(case(kind))
    assert body in docs[1].title
    assert "借呗" in docs[0].title and "借呗" in docs[1].text


def test_private_lender_gets_police_not_regulator():
    c = case("private", platform="放贷的老王")
    docs = escalation.complaint(c)
    assert not any("监管" in t for t in titles(docs))
    assert "110" in escalation.how_to_submit(c)


def test_contacts_called_cites_privacy_grounds():
    text = escalation.complaint(case())[0].text
    assert "第一千零三十三条" in text and "第一千零三十八条" in text and "第二十三条" in text
    assert "家人/亲属" in text and "同事/单位" in text
    assert "停止联系我的亲友" in text


def test_threat_adds_public_order_ground_and_police():
    c = case()
    assert "第五十条" in escalation.complaint(c)[0].text
    assert "110" in escalation.how_to_submit(c)


def test_impersonation_ground():
    c = case(what="对方自称是法院的人，说明天送传票", who=())
    text = escalation.complaint(c)[0].text
    assert "第六十二条" in text


def test_bank_card_adds_card_rule():
    text = escalation.complaint(case("bank_card", platform="招商银行信用卡"))[0].text
    assert "第六十八条" in text


def test_harassment_report_to_12321_only_when_harassed():
    assert any("12321" in t for t in titles(escalation.complaint(case())))
    quiet = escalation.ComplaintCase(platform="借呗", platform_kind="online", what_happened="利息太高了", today=TODAY)
    assert not any("12321" in t for t in titles(escalation.complaint(quiet)))


def test_unknown_everything_still_gives_a_usable_complaint():
    docs = escalation.complaint(escalation.ComplaintCase(today=TODAY))
    assert len(docs) >= 2
    assert "【平台名称】" in docs[0].text and "【发生了什么】" in docs[0].text


def test_annex_is_attached_to_regulator_complaint():
    docs = escalation.complaint(case(annex="附件一：催收记录（3条）"))
    assert "附件一：催收记录（3条）" in docs[1].text


def test_date_and_user_numbers_are_filled():
    doc = escalation.complaint(case(user_name="张三"))[0]
    assert "2026年11月22日" in doc.text and "张三" in doc.text


def test_no_unresolved_markers_anywhere():
    docs = escalation.complaint(case()) + [
        escalation.stop_contact_request("借呗", who=["我妈"], today=TODAY),
        escalation.relatives_script(),
        escalation.contacts_note("brief", "借呗"),
        escalation.contacts_note("detailed", None),
    ]
    for d in docs:
        assert not UNRESOLVED.search(d.text), (d.title, d.text)
        assert d.filename.endswith(".txt")
    for text in (escalation.police_guide(), escalation.evidence_checklist(), escalation.how_to_submit(case())):
        assert not UNRESOLVED.search(text)


def test_stop_contact_request_withdraws_consent_with_its_article():
    text = escalation.stop_contact_request("微粒贷", who=["我妈", "我领导"], today=TODAY).text
    assert "微粒贷" in text and "我妈、我领导" in text
    assert "第十五条" in text  # PIPL art. 15: withdrawing consent


def test_every_marker_in_content_exists():
    from xieshang.content import load
    from xieshang.facts import markers

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)
        elif isinstance(node, str):
            yield node

    ids = {m for s in walk(load("escalation")) for m in markers(s)}
    assert ids and ids <= set(all_facts())


def test_notes_fit_a_phone_screen():
    assert len(escalation.contacts_note("brief", "借呗").text) < 160
    assert len(escalation.police_guide()) < 400


def test_public_platform_and_data_deletion():
    assert "黑猫投诉" in escalation.how_to_submit(case())
    text = escalation.stop_contact_request("借呗", today=TODAY).text
    assert "删除" in text and "第四十四条至第四十七条" in text

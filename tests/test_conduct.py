"""The collector-conduct checker (xieshang/conduct.py, content/conduct.yml).

Realistic collector messages and descriptions, each with the rules it must and must not trigger;
lawful reminders must trigger no breach; every rule cited exists in the fact base; statutes are kept
apart from the national standard and self-regulation; advice follows the lender's kind.
"""
from __future__ import annotations

import re
from datetime import datetime

import pytest

from xieshang import conduct, facts

NOW = datetime(2026, 7, 22, 14, 30)  # a Wednesday afternoon
NO_BREACH = "no_breach"

# (text, kinds it must trigger, kinds it must not trigger); NO_BREACH in must_not = no breach at all.
CASES = [
    # --- time of day
    ("昨晚11点打了8个电话，还打给我领导说我诈骗",
     {"night_call", "frequent_calls", "third_party_contact", "defamation"}, {"legal_scare", "contacts_blast"}),
    ("催收晚上11点打电话给我", {"night_call"}, {"frequent_calls", "third_party_contact"}),
    ("凌晨2点还在给我打电话", {"night_call"}, set()),
    ("今天早上7点就打来电话催款", {"night_call"}, {"frequent_calls"}),
    ("晚上十点打电话过来催还款", {"night_call"}, set()),
    ("我昨晚11点接到催收电话", {"night_call"}, set()),
    ("半夜三更打电话骂我是老赖", {"night_call", "insult"}, set()),
    ("23:15又来电话了，这么晚还催", {"night_call"}, set()),
    # --- how often
    ("一天给我打了十个电话", {"frequent_calls"}, {"night_call"}),
    ("今天已经打了20多个电话了，手机都被打爆了", {"frequent_calls"}, set()),
    ("借呗的催收一天打了我4次电话", {"frequent_calls"}, set()),
    ("他们用不同的号码轮番轰炸，电话一直响个不停", {"frequent_calls"}, set()),
    ("一天打了5个电话我都没接", set(), {"frequent_calls", NO_BREACH}),
    ("一周打了14个电话", set(), {"frequent_calls", NO_BREACH}),
    # --- third parties and disclosure
    ("催收打给我妈说我欠钱不还", {"third_party_contact", "disclosure"}, {"contacts_blast"}),
    ("同事都收到了催收短信，说我在网贷逾期", {"third_party_contact", "disclosure"}, set()),
    ("催收在我们公司工作群里发消息说我欠钱不还", {"disclosure"}, set()),
    ("他们给我老板打电话，说我是骗子卷款跑路了", {"third_party_contact", "defamation"}, {"legal_scare"}),
    ("已经爆通讯录了，我所有联系人都收到了短信", {"contacts_blast"}, {"third_party_contact"}),
    ("他们打给了我的紧急联系人", {"emergency_contact"}, {"third_party_contact", NO_BREACH}),
    ("催收今天给我表姐和我大学室友都发了短信", {"third_party_contact"}, set()),
    # --- threats to expose, P图
    ("催收说不还就爆你通讯录", {"exposure_threat"}, {"contacts_blast"}),
    ("他说要把我P成通缉令发到我家族群", {"exposure_threat"}, {"exposure", "impersonation", "visit"}),
    ("催收威胁要把我的照片P成裸照发给我所有亲戚", {"exposure_threat"}, set()),
    ("催收把P过的我的照片发给了我好几个同学", {"exposure", "third_party_contact"}, {"exposure_threat"}),
    ("催收已经在抖音上发视频曝光我了", {"exposure"}, set()),
    ("再不还钱就把你的欠款信息发到你朋友圈，让你身败名裂", {"exposure_threat"}, set()),
    # --- fake legal documents, impersonation, lawyers
    ("收到一封律师函，说是XX律师事务所发的，要我三天内还款", {"lawyer_claim"}, {"impersonation", NO_BREACH}),
    ("催收微信发来一张法院传票的图片，说明天开庭", {"impersonation"}, set()),
    ("【XX市人民法院】你已被列为被告，请于24小时内联系处理", {"impersonation"}, set()),
    ("自称是公安局经侦的，说我涉嫌诈骗要抓我", {"impersonation", "legal_scare"}, set()),
    ("冒充律师打电话，说已经起诉我了", {"impersonation", "lawsuit"}, set()),
    # --- money
    ("催收让我把钱转到他的个人微信，说可以少还一点", {"personal_account"}, {"night_call"}),
    ("对方发来一个银行卡号，户名是个人名字，让我今天转账还款", {"personal_account"}, set()),
    ("说交2000块停催费就不再打电话", {"extra_fee"}, set()),
    # --- violence, intimidation, visits
    ("催收说要找人打断我的腿", {"violence_threat"}, {"intimidation"}),
    ("他说知道我孩子在哪上学，让我小心点", {"violence_threat"}, set()),
    ("你再不还，我让你在这个城市混不下去", {"intimidation"}, set()),
    ("说明天带十几个人去我家门口堵我", {"visit_threat"}, {"visit", "intrusion"}),
    ("说要去我老家村委会贴大字报", {"visit_threat", "exposure_threat"}, {"visit"}),
    ("今天有两个人来我家敲门，赖着不走", {"intrusion"}, set()),
    ("催收说下周安排外访人员上门核实", {"visit"}, {"visit_threat", "intrusion", NO_BREACH}),
    ("催收骂我傻逼，还问候我全家", {"insult"}, set()),
    ("催收说不还就让我坐牢，还会影响孩子考公", {"legal_scare"}, set()),
    ("催收说会把我列入失信名单，冻结我所有银行卡", {"consequence_claim"}, {NO_BREACH}),
    # --- as users tell it
    ("京东金条那边说要通知我们公司hr", {"exposure_threat"}, {"third_party_contact"}),
    ("借呗的外包催收打我爸妈电话，他们有这个权利吗", {"third_party_contact"}, set()),
    ("催收把我欠钱的事告诉我领导 这是违法的吧", {"disclosure", "third_party_contact"}, set()),
    ("他们建了个群把我亲戚都拉进去", {"exposure"}, set()),
    ("度小满的催收说今天不还就起诉到我户籍地法院", {"lawsuit"}, {"visit", NO_BREACH}),
    ("催收说他们跟当地警察很熟，随时可以来抓我", {"legal_scare"}, set()),
    ("有个人加我微信说是催收，给我发了我家门口的照片😱", {"intimidation"}, set()),
    ("催收让我去借别的网贷来还，说不然就上门", {"new_loan"}, {"visit_threat"}),
    ("他们打了我同事电话，不过没说我欠钱", {"third_party_contact"}, {"disclosure"}),
    ("txl里的人都收到短信了", {"contacts_blast"}, set()),
    ("他们天天打给我爸妈 一天十几个", {"third_party_contact", "frequent_calls"}, set()),
    ("你们家孩子在哪个学校我们都知道", {"violence_threat"}, set()),
    ("催收打給我同事，說我欠錢不還是老賴", {"third_party_contact", "disclosure"}, set()),
    ("收到一个链接，说是法院的电子传票，点进去让我交保证金", {"impersonation", "extra_fee"}, set()),
    # --- lawful reminders and things the user did or fears: no breach
    ("今天上午10点，平台客服打了一个电话给我，很礼貌地提醒我还款", set(), {NO_BREACH, "night_call", "frequent_calls"}),
    ("【借呗】尊敬的用户，您的借款已逾期3天，请尽快还款，如有困难可联系官方客服协商。", set(), {NO_BREACH}),
    ("催收下午3点发了一条短信提醒我今晚10点前还款", set(), {NO_BREACH, "night_call"}),
    ("早上8点半打的电话，态度还可以，让我尽快处理", set(), {NO_BREACH}),
    ("逾期了，催收说会依法起诉", {"lawsuit"}, {NO_BREACH}),
    ("您好，这里是XX消费金融，您本月账单已逾期5天，请于今日通过App还款。", set(), {NO_BREACH}),
    ("我好怕他们会打给我爸妈", set(), {NO_BREACH, "third_party_contact", "exposure_threat"}),
    ("催收可以打给我家人吗", set(), {NO_BREACH, "third_party_contact"}),
    ("我已经跟我妈说了我欠钱的事", set(), {NO_BREACH, "disclosure"}),
    ("我昨晚11点给催收回了个电话", set(), {NO_BREACH, "night_call"}),
    ("我一天给客服打了5个电话想协商", set(), {NO_BREACH, "frequent_calls"}),
    ("我明天去公司上班，能不能先少还一点", set(), {NO_BREACH, "visit", "night_call"}),
    ("同事问我是不是缺钱", set(), {NO_BREACH}),
    ("我跟催收协商好了分12期，他们说下个月开始还", set(), {NO_BREACH}),
    ("【微众银行】您的借款已逾期，请尽快登录微信还款，如已还款请忽略。", set(), {NO_BREACH}),
]


@pytest.mark.parametrize("text,must,must_not", CASES, ids=[c[0][:18] for c in CASES])
def test_checker_cases(text, must, must_not):
    report = conduct.check(text, now=NOW)
    kinds = set(report.kinds)
    assert must <= kinds, f"missing {must - kinds}; got {kinds}"
    assert not (kinds & (must_not - {NO_BREACH})), f"unexpected {kinds & must_not}"
    if NO_BREACH in must_not:
        assert not report.has_breach, [f.kind for f in report.breaches]


def test_enough_realistic_cases():
    assert len(CASES) >= 40
    assert sum(1 for _, must, must_not in CASES if NO_BREACH in must_not) >= 10


# ---------------------------------------------------------------------------------- lawful reminder


@pytest.mark.parametrize("text", [
    "今天上午10点，催收打了一个电话给我本人，客客气气提醒我还款",
    "10:00 接到一个电话，对方说是平台的，提醒我尽快还款，语气很正常",
    "【某消费金融】尊敬的客户，您的账单已逾期，请尽快还款，如有疑问请致电官方客服。",
])
def test_polite_daytime_reminder_is_no_breach(text):
    report = conduct.check(text, now=NOW)
    assert not report.has_breach, report.kinds
    reply = conduct.render(report)
    assert reply.startswith("没有发现明显违规")
    assert "违反" not in reply and "法律禁止" not in reply and "行业规范禁止" not in reply


def test_night_time_depends_on_the_clock_not_on_words():
    assert "night_call" not in conduct.check("晚上9点半打电话催款", now=NOW).kinds
    assert "night_call" in conduct.check("晚上10点半打电话催款", now=NOW).kinds
    assert "night_call" not in conduct.check("早上8点打电话", now=NOW).kinds
    assert "night_call" in conduct.check("早上7点50打电话", now=NOW).kinds
    # "刚才" means now: a call just now at 23:10 is a night call, at 15:00 it is not
    assert "night_call" in conduct.check("刚才又打电话来了", now=datetime(2026, 7, 22, 23, 10)).kinds
    assert "night_call" not in conduct.check("刚才又打电话来了", now=datetime(2026, 7, 22, 15, 0)).kinds


def test_frequency_thresholds_follow_the_standards():
    # effective calls: more than 3 a day; unanswered attempts: more than 6 a day (content/conduct.yml limits)
    assert "frequent_calls" not in conduct.check("今天打了3个电话", now=NOW).kinds
    assert "frequent_calls" in conduct.check("今天打了4个电话", now=NOW).kinds
    assert "frequent_calls" not in conduct.check("今天6个未接来电", now=NOW).kinds
    assert "frequent_calls" in conduct.check("今天7个未接来电", now=NOW).kinds
    found = conduct.check("一天打了十几个电话", now=NOW).breaches[0]
    assert found.kind == "frequent_calls" and "10" in found.detail


# ---------------------------------------------------------------------------------- citations


def test_every_cited_id_exists_in_the_fact_base():
    known = set(facts.all_facts())
    cited = conduct.cited_fact_ids()
    assert cited and set(cited) <= known, sorted(set(cited) - known)
    for text, _, _ in CASES:
        for kind in ("bank_card", "small_loan", None):
            report = conduct.check(text, now=NOW, lender_kind=kind)
            assert set(report.fact_ids) <= known
            # the reply cites nothing by hand: every 《…》 in it is the cite of a known fact
            reply = conduct.render(report)
            assert "[[" not in reply
            cites = {f.cite for f in facts.all_facts().values()}
            for instrument in re.findall(r"《[^》]+》[^；。，\n（]*", reply):
                assert any(instrument.strip() in c or c in reply for c in cites), instrument


def test_unknown_fact_id_in_content_is_refused(monkeypatch):
    import copy

    from xieshang import content

    real = content.load("conduct")
    broken = copy.deepcopy(real)
    broken["kinds"]["night_call"]["rules"].append({"fact": "9.99", "level": "breach"})
    monkeypatch.setattr(conduct, "load", lambda name: broken if name == "conduct" else content.load(name))
    with pytest.raises(ValueError, match="9.99"):
        conduct._Config()


def test_statutes_are_kept_apart_from_standards_and_self_regulation():
    report = conduct.check("昨晚11点打了8个电话，还打给我领导说我诈骗", now=NOW)
    by_kind = {f.kind: f for f in report.findings}
    night = by_kind["night_call"]
    assert not night.statutes, "the night window is a standard, not a statute"
    assert {c.fact_id for c in night.standards} >= {"2.5", "2.7"}
    assert all(c.kind in ("national_standard", "self_regulation") for c in night.standards)
    defamation = by_kind["defamation"]
    assert [c.fact_id for c in defamation.statutes] == ["1.7"]
    assert all(c.is_law for c in defamation.statutes)
    reply = conduct.render(report)
    assert "法律禁止" in reply and "行业规范禁止" in reply
    assert "不是法律" in reply
    assert facts.cite("1.7") in reply and facts.cite("2.5") in reply


def test_threat_to_safety_cites_the_public_security_law_and_sends_to_police():
    report = conduct.check("催收说要找人打断我的腿", now=NOW)
    threat = report.breaches[0]
    assert threat.kind == "violence_threat"
    assert "1.41" in [c.fact_id for c in threat.statutes]
    assert report.police
    reply = conduct.render(report)
    assert "110" in reply and facts.cite("1.41") in reply


def test_bank_only_rules_apply_only_to_banks():
    text = "信用卡中心的催收打给我同事，还骂我"
    bank = conduct.check(text, now=NOW, lender_kind="bank_card")
    online = conduct.check(text, now=NOW, lender_kind="small_loan")
    assert "2.11" in bank.fact_ids
    assert "2.11" not in online.fact_ids
    # the words alone say it is a credit card
    assert conduct.check(text, now=NOW).lender_kind == "bank_card"


# ---------------------------------------------------------------------------------- what to do


@pytest.mark.parametrize("kind,expected,absent", [
    ("bank_card", "12378", "jubao.nifa.org.cn"),
    ("consumer_finance", "12378", "地方金融管理局投诉"),
    ("small_loan", "地方金融管理局", "打12378（"),
    ("unknown", "jubao.nifa.org.cn", "小额贷款公司（含网络小贷）"),
])
def test_complaint_channel_follows_the_lender_kind(kind, expected, absent):
    report = conduct.check("催收打给我妈说我欠钱不还", now=NOW, lender_kind=kind)
    advice = "\n".join(report.advice)
    assert expected in advice
    assert absent not in advice


def test_no_police_for_a_plain_third_party_call_but_police_for_impersonation():
    assert not conduct.check("催收打给我妈了", now=NOW).police
    assert conduct.check("自称是法院的，说明天来抓我", now=NOW).police


def test_fraud_advice_for_personal_accounts():
    report = conduct.check("让我把钱转到他的个人支付宝", now=NOW)
    assert any("个人账户" in a for a in report.advice)


# ---------------------------------------------------------------------------------- rendering and robustness


def test_reply_is_short_enough_for_a_phone():
    for text, _, _ in CASES:
        reply = conduct.render(conduct.check(text, now=NOW))
        assert len(reply) <= 1400, (text, len(reply))
        assert reply.count("\n") <= 45


def test_pasted_message_shows_the_sentence_that_breaks_the_rule():
    sms = ("【XX资产】尊敬的客户，您在借呗的借款已严重逾期。我司已将您的逾期情况告知您的家人和单位，"
           "今天18点前不处理，明天安排外访人员到您单位门口等您。")
    report = conduct.check(sms, now=NOW)
    assert "disclosure" in report.kinds
    reply = conduct.render(report)
    assert "「" in reply


@pytest.mark.parametrize("bad", [None, "", "   ", "😭😭😭", "a" * 10000, "？？？", 12345, "第条第条", "\n\n\n"])
def test_bad_input_never_crashes(bad):
    report = conduct.check(bad, now=NOW)
    assert isinstance(conduct.render(report), str)


def test_has_content_tells_a_request_from_a_description():
    assert not conduct.has_content("帮我看看这条短信违不违规")
    assert not conduct.has_content("你帮我分析一下催收这样合不合法")
    assert conduct.has_content("帮我看看：昨晚11点打给我妈说我诈骗")
    assert conduct.has_content("【XX】您的欠款已逾期，请尽快处理")

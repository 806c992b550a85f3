"""Practice mode engine (xieshang/practice.py): stages, reactions, determinism, scoring. No Rasa."""
from __future__ import annotations

import importlib.util
import json
import re

import pytest

from xieshang import practice
from xieshang.facts import all_facts, markers

CPS = practice.COUNTERPARTS


def _fallback_extract(text):
    """Tiny stand-in for xieshang.nlu.extract, used only while that module does not exist yet."""
    out = []
    for m in re.finditer(r"分\s*([0-9]+)\s*期", text):
        out.append({"entity": "installments", "value": int(m.group(1)), "start": m.start(), "end": m.end(), "text": m.group(0)})
    for m in re.finditer(r"(每个?月|一个月)[^0-9]{0,6}([0-9]+)", text):
        out.append({"entity": "monthly_payment", "value": int(m.group(2)), "start": m.start(2), "end": m.end(), "text": m.group(0)})
    taken = [(e["start"], e["end"]) for e in out]
    for m in re.finditer(r"(?<![0-9])([0-9]{3,6})(?![0-9期号日点天])", text):
        if not any(s <= m.start() < e for s, e in taken):
            out.append({"entity": "amount", "value": int(m.group(1)), "start": m.start(), "end": m.end(), "text": m.group(0)})
    return sorted(out, key=lambda e: e["start"])


@pytest.fixture(autouse=True)
def extractor(monkeypatch):
    if importlib.util.find_spec("xieshang.nlu.extract") is None:
        monkeypatch.setattr(practice, "_extract", _fallback_extract)


STRONG = [
    "是我本人。请问您是哪家公司的，工号多少？我这边会录音。",
    "我今年三月被公司裁员了，收入断了，不是不想还，是真的还不上。",
    "我每个月最多能还1500，分15期，从下个月15号开始还，能不能把罚息和违约金减免掉？",
    "每个月1500已经是我的极限了，多了我做不到。",
    "另外请不要再联系我的家人和同事，根据民法典第一千零三十三条，这侵犯我的隐私。",
    "协商结果请发书面确认或短信给我，我只通过官方APP还款，不会转私人账户。",
    "好的，谢谢，等你们的短信。",
]
WEAK = ["没钱", "爱咋咋地", "你们去告吧"]
ALL_CRITERIA = ["identity", "hardship", "numbers", "fees", "third_party", "written", "means", "channel", "respect"]


def said(reply, cp, key):
    """True if the counterpart's words in ``reply`` contain one of its lines for ``key``."""
    for entry in practice.persona(cp)["lines"][key]:
        template = entry["text"] if isinstance(entry, dict) else entry
        pattern = ".*?".join(re.escape(part) for part in re.split(r"\{[a-z_]+\}", template))
        if re.search(pattern, reply.speak):
            return True
    return False


def at_stage(cp, stage, seed=1):
    """A state of a call with ``cp`` that has just reached ``stage``."""
    to = {
        "identity": [],
        "pressure": ["是我"],
        "counter": ["是我", "我每个月能还1000，分20期"],
        "threat": ["是我", "我每个月能还1000，分20期", "每个月1000是我的极限"],
    }[stage]
    reply = practice.start(cp, seed=seed)
    for text in to:
        reply = practice.step(reply.state, text)
    assert reply.state["stage"] == stage, (stage, reply.state["stage"])
    return reply


# ------------------------------------------------------------------ start, chooser, commands

@pytest.mark.parametrize("cp", CPS)
def test_start_checks_identity_with_prefix_and_plain_json_state(cp):
    reply = practice.start(cp, seed=7)
    assert reply.state["stage"] == "identity" and reply.state["cp"] == cp
    assert all(m.startswith("【练习模式】") for m in reply.messages)
    assert practice.persona(cp)["label"] in reply.text
    assert said(reply, cp, "identity")
    assert json.loads(json.dumps(reply.state)) == reply.state
    assert not reply.ended


def test_chooser_offers_three_counterparts_as_buttons():
    reply = practice.chooser()
    assert reply.state["stage"] == "choose"
    payloads = [b["payload"] for b in reply.buttons]
    assert payloads == ['/practice_call{"counterpart":"%s"}' % cp for cp in ("platform", "collector", "bank")]
    assert reply.messages[0].startswith("【练习模式】")


@pytest.mark.parametrize("text,entity,expected", [
    ("2", None, "collector"), ("1", None, "platform"), ("3。", None, "bank"),
    ("委外催收（凶，会施压）", None, "collector"), ("平台客服", None, "platform"), ("银行信用卡中心", None, "bank"),
    ('/practice_call{"counterpart":"bank"}', "bank", "bank"),
])
def test_chooser_picks_by_text_number_or_button(text, entity, expected):
    reply = practice.step(practice.chooser(seed=3).state, text, counterpart=entity)
    assert reply.state["cp"] == expected and reply.state["stage"] == "identity"


def test_chooser_repeats_when_nothing_was_picked():
    reply = practice.step(practice.chooser().state, "嗯……")
    assert reply.state["stage"] == "choose" and len(reply.buttons) == 3


@pytest.mark.parametrize("text,expected", [
    ("你扮演催收，我来练习", None),          # a plain 催收 is any caller: show the chooser
    ("帮我模拟一下跟银行信用卡中心协商", "bank"),
    ("我想练一下怎么跟客服协商", "platform"),
    ("换个凶一点的催收再练一次", "collector"),
    ("我想练习一下", None),
])
def test_counterpart_named_in_the_request(text, expected):
    assert practice.counterpart_from_text(text, strong=True) == expected


def test_exit_leaves_at_once_without_scorecard():
    reply = practice.step(at_stage("collector", "counter").state, "退出")
    assert reply.ended and reply.exited and reply.scorecard is None
    assert "退出" in reply.text and reply.messages[0].startswith("【练习模式】")


@pytest.mark.parametrize("command", ["结束", "不练了", "打分", "结束练习", "给我打分"])
def test_end_words_give_the_scorecard(command):
    reply = practice.step(at_stage("platform", "pressure").state, command)
    assert reply.ended and not reply.exited and reply.scorecard is not None
    assert re.search(r"\d+分", reply.text)
    assert [b["payload"] for b in reply.buttons] == ['/practice_call{"counterpart":"platform"}', "/practice_call"]


def test_role_play_sentences_with_end_words_do_not_end_the_call():
    reply = practice.step(at_stage("collector", "pressure").state, "我不想结束这个话题，我们继续谈")
    assert not reply.ended


# ------------------------------------------------------------------ stage progression

@pytest.mark.parametrize("cp", CPS)
def test_stages_follow_the_call(cp):
    reply = practice.start(cp, seed=11)
    stages = []
    for text in STRONG:
        reply = practice.step(reply.state, text)
        stages.append(reply.state["stage"])
    assert stages == ["pressure", "pressure", "counter", "threat", "concede", "closing", "done"]
    assert reply.ended and reply.scorecard is not None
    assert said(reply, cp, "bye")  # the counterpart says goodbye before the scorecard
    assert reply.messages[-1].startswith("【练习模式】练习结束")


def test_a_call_ends_after_the_maximum_number_of_turns():
    reply = practice.start("collector", seed=2)
    for _ in range(40):
        reply = practice.step(reply.state, "嗯")
        if reply.ended:
            break
    assert reply.ended and reply.scorecard is not None
    assert reply.state["n"] <= practice._content()["defaults"]["max_turns"] + 1


# ------------------------------------------------------------------ reactions

@pytest.mark.parametrize("cp", CPS)
def test_a_concrete_proposal_gets_a_counter_offer_asking_for_more(cp):
    reply = practice.step(at_stage(cp, "pressure").state, "我每个月能还1000，分20期")
    assert reply.state["stage"] == "counter"
    demand = reply.state["demand"]
    assert demand["monthly"] > 1000 and demand["periods"] < 20
    assert said(reply, cp, "counter") or said(reply, cp, "counter_cap")
    assert f"{demand['monthly']}元" in reply.speak


@pytest.mark.parametrize("cp", CPS)
def test_silence_and_vague_answers_get_more_pressure(cp):
    state = at_stage(cp, "pressure").state
    for text in ["", "不知道"]:
        reply = practice.step(state, text)
        assert reply.state["stage"] == "pressure"
        assert said(reply, cp, "pressure_more")
    # and the pressure rises: after three empty answers come the threats
    reply = at_stage(cp, "pressure")
    for _ in range(3):
        reply = practice.step(reply.state, "……")
    assert reply.state["stage"] == "threat" and said(reply, cp, "threat")


@pytest.mark.parametrize("cp", CPS)
def test_citing_the_law_against_third_party_contact_gets_a_retreat(cp):
    state = at_stage(cp, "threat").state
    with_law = practice.step(state, "请不要联系我的家人和同事，未经同意打扰他们违反民法典第一千零三十三条。")
    assert said(with_law, cp, "retreat") and with_law.state["flags"]["retreated"]
    without = practice.step(state, "请不要联系我的家人和同事。")
    assert said(without, cp, "third_party_no_basis") and not said(without, cp, "retreat")
    # the legal basis may come in the next sentence
    later = practice.step(without.state, "这是侵犯隐私的，个人信息保护法也不允许。")
    assert said(later, cp, "retreat")


@pytest.mark.parametrize("cp", CPS)
def test_asking_for_written_confirmation_gets_an_answer(cp):
    reply = practice.step(at_stage(cp, "counter").state, "谈好的方案能不能发短信给我书面确认？")
    assert said(reply, cp, "written_reply")


@pytest.mark.parametrize("cp", CPS)
def test_asking_who_is_calling_gets_the_badge(cp):
    reply = practice.step(practice.start(cp, seed=5).state, "请问你是哪家公司的？工号多少？")
    assert said(reply, cp, "caller_info") and reply.state["badge"] in reply.speak


@pytest.mark.parametrize("cp", CPS)
def test_agreeing_to_pay_everything_today_is_noted(cp):
    state = at_stage(cp, "pressure", seed=4).state
    reply = practice.step(state, "好的，我想办法今天全部还清")
    assert "overpromise" in reply.state["turns"][-1]["m"]
    assert said(reply, cp, "overpromise_ack")
    card = practice.step(reply.state, "打分").scorecard
    means = card.get("means")
    assert not means.met and "今天全部还清" in means.note


@pytest.mark.parametrize("cp", CPS)
def test_accepting_a_counter_offer_above_ones_own_offer_is_noted(cp):
    reply = practice.step(at_stage(cp, "counter").state, "行，那就按你说的")
    assert "overpromise" in reply.state["turns"][-1]["m"]
    assert said(reply, cp, "accept") and reply.state["stage"] == "closing"


def test_collector_asks_for_a_personal_account_and_notes_who_agrees():
    reply = practice.step(at_stage("collector", "threat").state, "我真的只能每个月1000")
    assert said(reply, "collector", "concede_trap") and reply.state["flags"]["trap_open"]
    yes = practice.step(reply.state, "行，那我转给你")
    assert "trap_accepted" in yes.state["turns"][-1]["m"] and said(yes, "collector", "trap_accepted")
    channel = practice.step(yes.state, "打分").scorecard.get("channel")
    assert not channel.met and "个人账户" in channel.note
    no = practice.step(reply.state, "我不会转到你个人账户，我只在官方App里还")
    assert "trap_accepted" not in no.state["turns"][-1]["m"] and said(no, "collector", "channel_reply")
    assert practice.step(no.state, "打分").scorecard.get("channel").met


@pytest.mark.parametrize("cp", CPS)
def test_the_reply_changes_with_the_users_move(cp):
    state = at_stage(cp, "pressure", seed=9).state
    moves = ["", "我每个月能还1000，分20期", "我失业了，收入断了", "请不要联系我家人，这违反民法典", "能发书面确认给我吗"]
    replies = [practice.step(state, text).speak for text in moves]
    assert len(set(replies)) == len(replies)


# ------------------------------------------------------------------ determinism and variety

@pytest.mark.parametrize("cp", CPS)
def test_same_seed_same_call(cp):
    a, _ = practice.play(cp, STRONG, seed=42)
    b, _ = practice.play(cp, STRONG, seed=42)
    assert [r.messages for r in a] == [r.messages for r in b]


@pytest.mark.parametrize("cp", CPS)
def test_different_seeds_give_different_calls(cp):
    calls = {tuple(m for r in practice.play(cp, STRONG, seed=s)[0] for m in r.messages[:1]) for s in range(1, 13)}
    openings = {practice.start(cp, seed=s).speak for s in range(1, 13)}
    assert len(calls) >= 4 and len(openings) >= 2


def test_lines_are_not_repeated_within_a_call():
    reply = practice.start("collector", seed=3)
    spoken = []
    for _ in range(3):
        reply = practice.step(reply.state, "")
        spoken.append(reply.speak)
    reply = practice.step(reply.state, "嗯")
    spoken.append(reply.speak)
    assert len(set(spoken)) == len(spoken)


# ------------------------------------------------------------------ the scenario

def test_the_scenario_uses_the_users_case():
    case = {"platform": "借呗", "amount": 23000, "overdue_days": 90}
    reply = practice.start("collector", case, seed=1)
    reply = practice.step(reply.state, "是我")
    text = reply.speak
    assert "23000元" in text and "90天" in text
    reply = practice.step(reply.state, "我每个月能还1000，分23期")
    assert reply.state["demand"]["monthly"] >= 23000 // 12


def test_sensible_defaults_without_a_case():
    reply = practice.step(practice.start("platform", None, seed=1).state, "是我")
    assert "20000元" in reply.speak and "45天" in reply.speak


def test_bank_names_a_bank_card_centre():
    reply = practice.start("bank", {"platform": "招商银行信用卡"}, seed=1)
    assert "招商银行信用卡中心" in reply.text or "持卡人" in reply.text
    assert all("借呗中心" not in practice.start("bank", {"platform": "借呗"}, seed=s).text for s in range(5))


def test_a_capacity_the_user_gave_before_makes_a_higher_offer_an_overpromise():
    reply = practice.start("platform", {"amount": 12000, "monthly_payment": 1000}, seed=1)
    reply = practice.step(reply.state, "是我")
    reply = practice.step(reply.state, "我每个月能还2000，分6期")
    assert "overpromise" in reply.state["turns"][-1]["m"]


# ------------------------------------------------------------------ scoring

@pytest.mark.parametrize("cp", CPS)
def test_strong_transcript_scores_all_criteria(cp):
    _, card = practice.play(cp, STRONG, seed=5)
    assert card.total == 100 and card.met == ALL_CRITERIA


@pytest.mark.parametrize("cp", CPS)
def test_weak_transcript_scores_nothing(cp):
    _, card = practice.play(cp, WEAK, seed=5)
    assert card.total == 0 and card.met == []
    assert "爱咋咋地" in card.get("respect").note


@pytest.mark.parametrize("cp", CPS)
def test_strong_beats_weak_for_every_seed(cp):
    for seed in range(1, 6):
        assert practice.play(cp, STRONG, seed=seed)[1].total > practice.play(cp, WEAK, seed=seed)[1].total


def test_rubric_is_100_points_with_an_example_for_every_criterion():
    crits = practice.rubric()
    assert sum(c["points"] for c in crits) == 100
    assert [c["id"] for c in crits] == ALL_CRITERIA
    assert all(c["example"] for c in crits)


# Each criterion: a transcript that earns it and one that does not (other criteria may vary).
CASES = [
    ("identity", ["是我，请问有什么事？"], True),
    ("identity", ["请问您是哪个公司的？工号多少？"], True),
    ("identity", ["是我，爱咋咋地"], False),
    ("identity", ["你说吧"], False),
    ("hardship", ["是我", "我生病住院了三个月，收入断了"], True),
    ("hardship", ["是我", "公司倒闭了，我失业半年了"], True),
    ("hardship", ["是我", "没钱，还不上"], False),
    ("numbers", ["是我", "我每个月能还1000，分20期"], True),
    ("numbers", ["是我", "分24期吧"], True),
    ("numbers", ["是我", "我尽量还"], False),
    ("numbers", ["是我", "我先还2000"], False),
    ("fees", ["是我", "能不能把罚息和违约金免掉"], True),
    ("fees", ["是我", "我申请停息挂账"], True),
    ("fees", ["是我", "利息太高了"], False),
    ("third_party", ["是我", "别再打给我父母，这侵犯我的隐私"], True),
    ("third_party", ["是我", "不要联系我同事", "根据民法典，这是违法的"], True),
    ("third_party", ["是我", "你们打给我妈是违法的"], True),
    ("third_party", ["是我", "不要联系我同事"], False),
    ("third_party", ["是我", "你们再找我同事我就投诉"], False),
    ("third_party", ["是我", "这是违法的"], False),
    ("written", ["是我", "方案请发短信书面确认给我"], True),
    ("written", ["是我", "这通电话我在录音"], True),
    ("written", ["是我", "你说的我记住了"], False),
    ("means", ["是我", "我失业了", "我最多每个月还800，分25期"], True),
    ("means", ["是我", "这个金额太高了，我做不到"], True),
    ("means", ["是我", "好的，我今天全部还清"], False),
    ("means", ["是我", "我去借钱还你们"], False),
    ("means", ["是我", "嗯"], False),
    ("channel", ["是我", "我只通过官方App还款"], True),
    ("channel", ["是我", "我不会转钱到个人账户"], True),
    ("channel", ["是我", "我会还的"], False),
    ("channel", ["是我", "我在app里看到欠了两万"], False),
    ("respect", ["是我", "我理解您的工作，我们好好谈"], True),
    ("respect", ["是我", "你神经病吧"], False),
    ("respect", ["是我", "你们去告吧"], False),
    ("respect", ["是我", "你tm烦不烦"], False),
    ("respect", ["是我", "usb线我有，先说事吧"], True),
    ("respect", ["是我"], False),   # one word is not yet a conversation
]


@pytest.mark.parametrize("criterion,turns,met", CASES)
def test_each_criterion_positive_and_negative(criterion, turns, met):
    for cp in CPS:
        _, card = practice.play(cp, turns, seed=3)
        item = card.get(criterion)
        assert item.met is met, (cp, criterion, turns)
        assert item.points == (item.max if met else 0)
        if met:
            assert item.quote and item.example is None
        else:
            assert item.example and item.quote is None


def test_the_intent_counts_for_the_fee_waiver():
    state = at_stage("platform", "pressure").state
    reply = practice.step(state, "这部分能不能少一点", intent="want_reduce_fees")
    assert "fee" in reply.state["turns"][-1]["m"]


def test_scorecard_text_shows_points_quotes_and_tips():
    _, card = practice.play("collector", ["是我本人", "我失业了，收入断了"], seed=1)
    text = practice.render_scorecard(card)
    assert text.startswith("【练习模式】") and f"{card.total}分" in text
    assert "✅ 冷静确认身份" in text and "你说：“是我本人”" in text
    assert "❌ 要求别找家人同事" in text and "《中华人民共和国民法典》第一千零三十三条" in text
    assert "[[" not in text and "\n\n" not in text   # REST splits texts at blank lines
    assert "再来一轮" in text


def test_quotes_point_at_the_part_of_a_long_turn_that_earned_the_points():
    _, card = practice.play("platform", STRONG, seed=1)
    assert "罚息" in card.get("fees").quote


def test_bank_tip_cites_the_bank_rule():
    _, card = practice.play("bank", WEAK, seed=1)
    assert "《商业银行信用卡业务监督管理办法》" in card.get("third_party").example


def test_every_fact_marker_in_the_content_exists():
    raw = json.dumps(practice._content(), ensure_ascii=False)
    ids = markers(raw)
    assert ids and all(i in all_facts() for i in ids)


# ------------------------------------------------------------------ content and robustness

REQUIRED = ["identity", "identity_again", "caller_info", "pressure", "pressure_more", "ask_plan", "counter",
            "counter_lump", "threat", "concede", "concede_noplan", "accept", "fee_reply", "written_reply",
            "recorded_reply", "retreat", "third_party_no_basis", "channel_reply", "defiance_reply", "rude_reply",
            "overpromise_ack", "closing", "bye"]


@pytest.mark.parametrize("cp", CPS)
def test_every_persona_has_every_kind_of_line(cp):
    lines = practice.persona(cp)["lines"]
    for key in REQUIRED:
        assert len(lines.get(key) or []) >= 2, (cp, key)
    for key in ["identity", "pressure", "pressure_more", "counter", "threat", "closing"]:
        assert len(lines[key]) >= 3, (cp, key)
    state = practice.start(cp, seed=1).state
    state["offer"], state["demand"] = {"monthly": 1000, "periods": 20, "lump": 500}, {"monthly": 2000, "periods": 10, "down": 3000}
    fields = practice._fields(state)
    for key, entries in lines.items():
        for entry in entries:
            text = (entry["text"] if isinstance(entry, dict) else entry).format(**fields)
            assert "{" not in text and len(text) < 120, (cp, key, text)


@pytest.mark.parametrize("bad_state", [None, {}, "x", {"v": 1, "stage": "identity", "cp": "nope"}, {"v": 99}])
def test_a_broken_state_falls_back_to_the_chooser(bad_state):
    reply = practice.step(bad_state, "是我")
    assert reply.state["stage"] == "choose" and reply.buttons


@pytest.mark.parametrize("text", [None, "", "   ", "😀" * 3000, "a" * 10000, "{amount}{0}%s", 12345, "13812345678"])
def test_odd_input_never_crashes(text):
    reply = practice.step(at_stage("collector", "pressure").state, text)
    assert reply.messages and all(m.startswith("【练习模式】") for m in reply.messages)
    json.dumps(reply.state)
    assert len(json.dumps(reply.state, ensure_ascii=False)) < 4000


def test_identifiers_are_masked_in_the_state():
    reply = practice.step(at_stage("collector", "pressure").state, "你打我电话13812345678就行")
    assert "13812345678" not in json.dumps(reply.state)

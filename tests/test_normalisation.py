"""Entity extraction and number normalisation (xieshang/nlu/numbers.py, xieshang/nlu/extract.py),
the lender list (xieshang/content/lenders.yml) and its Rasa lookup table. No trained model needed."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from xieshang.nlu.extract import canonical_platform, extract, platform_kind
from xieshang.nlu.numbers import parse_days, parse_money, parse_number, parse_periods

ROOT = Path(__file__).resolve().parent.parent


def facts(text):
    """(entity, value) pairs in order."""
    return [(e["entity"], e["value"]) for e in extract(text)]


# ------------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    "text, expected",
    [
        ("两万三", 23000), ("2w", 20000), ("1.2万", 12000), ("5k", 5000), ("八千五", 8500),
        ("3千多", 3000), ("一万五千块", 15000), ("2万5", 25000), ("十万", 100000), ("3000元", 3000),
        ("两千", 2000), ("1,500", 1500), ("五百", 500), ("4.5k", 4500), ("一千二", 1200),
        ("三千来块", 3000), ("兩萬三", 23000), ("1万8", 18000), ("2w5", 25000), ("3.6w", 36000),
        ("两三千", 2000), ("七八千", 7000), ("三十多万", 300000), ("一万出头", 10000), ("十来万", 100000),
        ("一点五万", 15000), ("一万零五", 10005), ("２万", 20000), ("25000块", 25000), ("八萬", 80000),
        ("12000", 12000), ("一百二", 120),
    ],
)
def test_parse_money(text, expected):
    assert parse_money(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("三个月", 90), ("半年", 180), ("20天", 20), ("二十来天", 20), ("一年半", 545), ("半个月", 15),
        ("两周", 14), ("一个多月", 30), ("十几天", 10), ("一年", 365), ("仨月", 90), ("俩月", 60),
        ("一个礼拜", 7), ("一个星期", 7), ("七八十天", 70), ("一百多天", 100), ("一个半月", 45),
        ("四十五天", 45), ("三個月", 90), ("两个多月", 60), ("一年多", 365),
    ],
)
def test_parse_days(text, expected):
    assert parse_days(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("分12期", 12), ("十二期", 12), ("两年", 24), ("一年", 12), ("36个月", 36), ("半年", 6),
        ("五年", 60), ("十二个月", 12), ("一年半", 18), ("兩年", 24), ("24期", 24),
    ],
)
def test_parse_periods(text, expected):
    assert parse_periods(text) == expected


@pytest.mark.parametrize("text", ["", "我好焦虑", "没钱", "3月5号", None, 12, "几千", "好几万"])
def test_parsers_without_a_number_give_none(text):
    assert parse_days(text) is None
    assert parse_periods(text) is None
    if text in ("", "我好焦虑", "没钱", None, 12, "几千", "好几万"):
        assert parse_money(text) is None
        assert parse_number(text) is None


def test_parse_number_keeps_decimals():
    assert parse_number("1.5") == 1.5
    assert parse_number("利率是0.05") == 0.05


# ------------------------------------------------------------------------------------------ extract


@pytest.mark.parametrize(
    "text, expected",
    [
        # the contract's examples
        ("借呗欠了两万三逾期三个月了，催收天天打给我同事",
         [("platform", "借呗"), ("amount", 23000), ("overdue_days", 90)]),
        ("借呗欠两万，花呗八千", [("platform", "借呗"), ("amount", 20000), ("platform", "花呗"), ("amount", 8000)]),
        ("欠了两万三", [("amount", 23000)]),
        ("借呗2w", [("platform", "借呗"), ("amount", 20000)]),
        ("总共欠5万多", [("amount", 50000)]),
        ("本金一万二", [("amount", 12000)]),
        ("月入四千五", [("monthly_income", 4500)]),
        ("工资3000", [("monthly_income", 3000)]),
        ("一个月挣五千", [("monthly_income", 5000)]),
        ("收入4k", [("monthly_income", 4000)]),
        ("每个月最多还两千", [("monthly_payment", 2000)]),
        ("一个月能还1000", [("monthly_payment", 1000)]),
        ("月供能拿出八百", [("monthly_payment", 800)]),
        ("逾期三个月", [("overdue_days", 90)]),
        ("晚了20天", [("overdue_days", 20)]),
        ("逾期半年了", [("overdue_days", 180)]),
        ("yq两个月", [("overdue_days", 60)]),
        ("分12期", [("installments", 12)]),
        ("分成24个月还", [("installments", 24)]),
        ("分两年还", [("installments", 24)]),
        # traditional characters, full width, pinyin shorthand, typos
        ("借唄欠了兩萬三", [("platform", "借呗"), ("amount", 23000)]),
        ("螞蟻借唄逾期三個月", [("platform", "借呗"), ("overdue_days", 90)]),
        ("ｊｂ欠了２万", [("platform", "借呗"), ("amount", 20000)]),
        ("jb逾期了", [("platform", "借呗")]),
        ("hb 3000", [("platform", "花呗"), ("amount", 3000)]),
        ("wld欠了8000", [("platform", "微粒贷"), ("amount", 8000)]),
        ("bb2w hb8k", [("platform", "借呗"), ("amount", 20000), ("platform", "花呗"), ("amount", 8000)]),
        ("微立贷还不上了", [("platform", "微粒贷")]),
        ("借贝的钱还不起了", [("platform", "借呗")]),
        ("奇富借条逾期了", [("platform", "360借条")]),
        ("360 4000", [("platform", "360借条"), ("amount", 4000)]),
        ("招行信用卡欠了6万", [("platform", "招商银行信用卡"), ("amount", 60000)]),
        ("美团生活费还不上", [("platform", "美团借钱")]),
        # several facts, context decides which number is which
        ("我借了京东金条和美团借钱，一共欠了4万，已经逾期45天，月薪6k，每个月最多还1500，想分24期",
         [("platform", "京东金条"), ("platform", "美团借钱"), ("amount", 40000), ("overdue_days", 45),
          ("monthly_income", 6000), ("monthly_payment", 1500), ("installments", 24)]),
        ("月入八千，每月能还三千", [("monthly_income", 8000), ("monthly_payment", 3000)]),
        ("工资到手4k，扣掉房租能还1k", [("monthly_income", 4000), ("monthly_payment", 1000)]),
        ("我一个月工资5000，房租1500，能还2000", [("monthly_income", 5000), ("monthly_payment", 2000)]),
        ("欠款4.5万 月薪6000 每个月能还1500 想分30期",
         [("amount", 45000), ("monthly_income", 6000), ("monthly_payment", 1500), ("installments", 30)]),
        ("逾期两个多月，欠一万七", [("overdue_days", 60), ("amount", 17000)]),
        ("欠京东金条一万五，两个月没还了", [("platform", "京东金条"), ("amount", 15000), ("overdue_days", 60)]),
        ("收入不固定，一个月大概两三千", [("monthly_income", 2000)]),
        ("每个月1500已经是我的极限了", [("monthly_payment", 1500)]),
        ("我每个月最多能还1500，分15期，从下个月15号开始还", [("monthly_payment", 1500), ("installments", 15)]),
        ("拍拍贷欠9千 能不能给我分10期 一期还900",
         [("platform", "拍拍贷"), ("amount", 9000), ("installments", 10), ("monthly_payment", 900)]),
        ("能还三百一个月", [("monthly_payment", 300)]),
        ("月薪3500 光网贷每个月就要还六千", [("monthly_income", 3500)]),
        ("我已经还了一万五了还欠三万", [("amount", 30000)]),
        ("借了5000到手只有3500", [("amount", 5000)]),
        ("逾期三四个月了", [("overdue_days", 90)]),
        ("借呗欠了2万多，逾期一个半月", [("platform", "借呗"), ("amount", 20000), ("overdue_days", 45)]),
        ("跟银行协商五年还清可以吗", [("installments", 60)]),
        # ranges give the lower end; periods overdue or demanded sums are not a plan
        ("我能每个月还1000到1500", [("monthly_payment", 1000)]),
        ("欠了大概7、8万", [("amount", 70000)]),
        ("逾期两到三个月", [("overdue_days", 60)]),
        ("借呗2000、花呗3000", [("platform", "借呗"), ("amount", 2000), ("platform", "花呗"), ("amount", 3000)]),
        ("借呗逾期3期了", [("platform", "借呗")]),
        ("还剩18期没还", [("installments", 18)]),
        ("三张信用卡一共欠了12万，每个月最低还款都要6000多", [("platform", "信用卡"), ("amount", 120000)]),
        ("借呗额度5万，用了3万", [("platform", "借呗"), ("amount", 30000)]),
        ("每月收入大约5000左右，房租1500，还能剩下2000左右用来还款",
         [("monthly_income", 5000), ("monthly_payment", 2000)]),
        ("一次性还8000能不能免罚息", [("amount", 8000)]),
        # a short answer is read the way the bot's questions expect it
        ("两万三", [("amount", 23000)]),
        ("三个多月", [("overdue_days", 90)]),
        ("两年", [("installments", 24)]),
        ("快两年了", [("overdue_days", 730)]),
        ("借呗 23000 45天", [("platform", "借呗"), ("amount", 23000), ("overdue_days", 45)]),
    ],
)
def test_extract(text, expected):
    assert facts(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "我好焦虑", "打了10个电话", "晚上11点打电话给我", "催收用13812345678打给我妈", "我的电话是138 1234 5678",
        "今天是2024年3月5号", "年化36%算高利贷吗", "日息万五", "催收一天打了二十多次", "罚息就两千多",
        "我失业三个月了", "下个月15号发工资", "能不能延期一个月", "再宽限我两天", "七天一期",
        "最近三个月一直被催", "没有钱花了", "那就还呗", "打110报警", "打12378投诉", "886", "五一去哪玩比较好",
        "我的卡号是6222021234567890123", "验证码是123456", "工号9527的催收", "他说他是8号催收员",
        "一年挣十万", "网贷欠了很多", "欠了好几万", "每个月房租1500", "714高炮要不要还", "可以先暂停还款两个月吗",
        "工资拖了两个月没发", "光网贷每个月就要还六千", "😭😭😭", "催收让我转5000到个人账户",
        "他说交2000就能停息挂账", "每月最低还款额3000", "催收说三天内不还就上门", "发了200条短信给我通讯录",
        "说48小时之内不处理就起诉", "我手里只有800块", "4001234567", "ok", "我25岁",
    ],
)
def test_extract_finds_no_false_facts(text):
    numeric = [e for e in extract(text) if e["entity"] != "platform"]
    assert numeric == [], numeric


def test_wangdai_is_not_a_lender():
    assert [e for e in extract("网贷逾期了，wd欠了五万") if e["entity"] == "platform"] == []
    assert canonical_platform("网贷") is None


def test_offsets_point_into_the_original_text():
    text = "螞蟻借唄欠了兩萬三，逾期三個月了😭 ｊｂ"
    ents = extract(text)
    assert [(e["entity"], e["text"]) for e in ents] == [
        ("platform", "螞蟻借唄"), ("amount", "兩萬三"), ("overdue_days", "三個月"), ("platform", "ｊｂ")]
    for e in ents:
        assert text[e["start"]: e["end"]] == e["text"]
        assert set(e) == {"entity", "value", "start", "end", "text"}


def test_exact_offsets():
    ents = extract("借呗欠了两万三逾期三个月")
    assert [(e["start"], e["end"]) for e in ents] == [(0, 2), (4, 7), (9, 12)]
    assert all(isinstance(e["value"], int) for e in ents if e["entity"] != "platform")


def test_two_lenders_in_order():
    ents = extract("欠分期乐八千五，安逸花一万二，一个都还不上了")
    assert [(e["entity"], e["value"]) for e in ents] == [
        ("platform", "分期乐"), ("amount", 8500), ("platform", "安逸花"), ("amount", 12000)]


@pytest.mark.parametrize(
    "value", [None, "", "   ", 123, b"bytes", [], {}, "😭" * 3000, "a" * 10_000, "1" * 10_000, "一" * 10_000,
              "万" * 10_000, "\x00\ud800", "İ" * 20, "借呗" * 5000, "Hello, I owe 5000 dollars", "<script>"]
)
def test_never_raises(value):
    assert isinstance(extract(value), list)
    for fn in (parse_money, parse_days, parse_periods, parse_number):
        fn(value)
    canonical_platform(value)
    assert isinstance(platform_kind(value), str)


def test_long_message_still_found_and_reasonably_fast():
    text = ("我真的很难受。" * 1500) + "借呗欠了两万三"
    assert len(text) > 10_000
    start = time.perf_counter()
    ents = extract(text)
    assert time.perf_counter() - start < 1.0
    assert ("amount", 23000) in [(e["entity"], e["value"]) for e in ents]


def test_under_a_millisecond_per_typical_message():
    messages = [
        "借呗欠了两万三逾期三个月了，催收天天打给我同事", "月入四千五，每个月最多还两千", "分12期", "我好焦虑",
        "我借了京东金条和美团借钱，一共欠了4万，已经逾期45天，月薪6k，每个月最多还1500，想分24期",
    ] * 200
    extract("warm up")
    start = time.perf_counter()
    for m in messages:
        extract(m)
    per_message = (time.perf_counter() - start) / len(messages)
    assert per_message < 0.001, per_message


# ------------------------------------------------------------------------------------------ lenders


@pytest.mark.parametrize(
    "name, canonical",
    [
        ("蚂蚁借呗", "借呗"), ("借唄", "借呗"), ("jb", "借呗"), ("JB", "借呗"), ("支付宝借呗", "借呗"),
        ("花唄", "花呗"), ("蚂蚁花呗", "花呗"), ("hb", "花呗"), ("微立贷", "微粒贷"), ("wld", "微粒贷"),
        ("京东金条", "京东金条"), ("金条", "京东金条"), ("白条", "京东白条"), ("美团借钱", "美团借钱"),
        ("美团生活费", "美团借钱"), ("360借款", "360借条"), ("奇富借条", "360借条"), ("有钱花", "有钱花"),
        ("度小满", "度小满"), ("马上消费金融", "安逸花"), ("招联好期贷", "招联金融"), ("招行信用卡", "招商银行信用卡"),
        ("信用卡", "信用卡"), ("分付", "微信分付"), ("放心借", "抖音放心借"), ("网商银行", "网商贷"),
        (" 分期樂 ", "分期乐"), ("我在借呗借的", "借呗"),
    ],
)
def test_canonical_platform(name, canonical):
    assert canonical_platform(name) == canonical


@pytest.mark.parametrize("name", ["网贷", "贷款", "我也不知道", "", "借呗和花呗", "某某平台", "银行"])
def test_canonical_platform_unknown(name):
    assert canonical_platform(name) is None


@pytest.mark.parametrize(
    "name, kind",
    [
        ("信用卡", "bank_card"), ("招行信用卡", "bank_card"), ("微粒贷", "bank_loan"), ("网商贷", "bank_loan"),
        ("招联金融", "consumer_finance"), ("安逸花", "consumer_finance"), ("分期乐", "online"),
        ("拍拍贷", "online"), ("浙商银行信用卡", "bank_card"), ("某某小贷", "small_loan"),
        ("某某消费金融", "consumer_finance"), ("网贷", "unknown"), (None, "unknown"),
    ],
)
def test_platform_kind(name, kind):
    assert platform_kind(name) == kind


def _lenders():
    return yaml.safe_load((ROOT / "xieshang/content/lenders.yml").read_text(encoding="utf-8"))["lenders"]


def test_lender_list_is_complete_and_well_formed():
    rows = _lenders()
    assert len(rows) >= 60
    kinds = {"bank_card", "bank_loan", "consumer_finance", "small_loan", "online"}
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names))
    for row in rows:
        assert row["kind"] in kinds, row
        assert isinstance(row.get("synonyms"), list), row
    required = ["借呗", "花呗", "微粒贷", "京东金条", "京东白条", "美团借钱", "360借条", "度小满", "安逸花", "招联金融",
                "分期乐", "拍拍贷", "省呗", "你我贷", "宜人贷", "小赢卡贷", "还呗", "洋钱罐", "桔多多", "平安普惠",
                "豆豆钱", "携程金融", "网商贷", "抖音月付", "微信分付", "信用卡", "招商银行信用卡"]
    assert not [n for n in required if n not in names]
    every = {str(a) for r in rows for a in [r["name"], *r["synonyms"]]}
    assert "网贷" not in every and "wd" not in every


def test_each_synonym_names_one_lender():
    from xieshang.nlu.text import normalise

    owner = {}
    for row in _lenders():
        for alias in [row["name"], *row["synonyms"]]:
            key = normalise(str(alias)).lower()
            assert owner.setdefault(key, row["name"]) == row["name"], (alias, owner[key], row["name"])
            assert canonical_platform(str(alias)) == row["name"], alias


def test_every_synonym_is_found_in_a_sentence():
    for row in _lenders():
        for alias in [row["name"], *row["synonyms"]]:
            found = [e["value"] for e in extract(f"我在 {alias} 借的钱还不上了") if e["entity"] == "platform"]
            assert found == [row["name"]], (alias, found)


def test_lookup_table_is_generated_from_the_lender_list():
    result = subprocess.run([sys.executable, "scripts/gen_lenders_lookup.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    lookup = yaml.safe_load((ROOT / "data/lookup/lenders.yml").read_text(encoding="utf-8"))
    [table] = lookup["nlu"]
    assert table["lookup"] == "platform"
    elements = [line[2:] for line in table["examples"].splitlines() if line.startswith("- ")]
    assert {"借呗", "借唄", "jb", "微立贷", "奇富借条", "招行信用卡"} <= set(elements)
    assert len(elements) == len(set(elements)) >= 150


# ----------------------------------------------------------------------- agreement with the data


def _same(annotation, found):
    if annotation["entity"] != found["entity"]:
        return False
    if found["start"] >= annotation["end"] or found["end"] <= annotation["start"]:
        return False
    if annotation["entity"] == "platform":
        return found["value"] == annotation["value"]
    try:
        return int(found["value"]) == int(float(annotation["value"]))
    except (TypeError, ValueError):
        return False


def _agreement(path):
    from rasa.shared.nlu.training_data.loading import load_data

    total, misses = 0, []
    for message in load_data(str(path)).training_examples:
        text = message.get("text")
        found = extract(text)
        for annotation in message.get("entities") or []:
            total += 1
            if not any(_same(annotation, f) for f in found):
                misses.append((text, annotation["entity"], annotation["value"],
                               [(f["entity"], f["value"], f["text"]) for f in found]))
    return total, misses


def test_extract_agrees_with_the_annotated_training_data():
    # data/nlu only: load_data("data") also reads data/rules, which are not NLU files
    total, misses = _agreement(ROOT / "data" / "nlu")
    for miss in misses:
        print("MISS", miss)
    rate = 1 - len(misses) / total
    print(f"annotated training data: {total - len(misses)}/{total} = {rate:.1%}")
    assert total >= 300
    assert rate >= 0.95


def test_extract_agrees_with_the_heldout_annotations():
    path = ROOT / "tests" / "nlu" / "heldout.yml"
    if not path.exists():
        pytest.skip("no held-out set")
    total, misses = _agreement(path)
    for miss in misses:
        print("MISS", miss)
    assert 1 - len(misses) / total >= 0.9

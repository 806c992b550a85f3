from __future__ import annotations

import re

import pytest

from xieshang.crisis import crisis_reply, is_crisis, match, normalise

POSITIVE = [
    "我不想活了",
    "真的不想活了，欠了二十多万",
    "我想死",
    "好想死啊，家里人都知道了",
    "我想自杀",
    "有过轻生的念头",
    "想从楼上跳下去",
    "我想去跳楼",
    "活着没意思",
    "活着真没意思，天天被催",
    "活着还有什么意思",
    "不如结束生命算了",
    "死了一了百了",
    "一了百了吧",
    "我撑不下去了",
    "真的撑不住了",
    "熬不下去了",
    "已经写好遗书了",
    "想割腕",
    "买了炭，想烧炭",
    "我想喝农药",
    "活不下去了",
    "我死了算了，反正还不上",
    "只能拿命还了",
    "想寻短见",
    "我怕我会想不开",
    "生无可恋",
    "想离开这个世界",
    "想自我了断",
    # Traditional Chinese
    "我不想活了，活著沒意思",
    "我想自殺",
    "有輕生的念頭",
    "撐不下去了",
    "想跳樓",
    "想結束生命",
    # pinyin-ish / euphemisms / spacing
    "wo bu xiang huo le",
    "想 zi sha",
    "我想紫砂",
    "不想 活 了！！",
    "活着，没意思",
    "I want to kill myself",
]

NEGATIVE = [
    "笑死了",
    "哈哈笑死我了",
    "今天累死了",
    "这也太死贵了",
    "饿死了，先去吃饭",
    "热死了",
    "气死我了，又打电话给我妈",
    "烦死了",
    "吓死我了",
    "想死你了",
    "商场跳楼价大甩卖",
    "买了一把紫砂壶",
    "我不会自杀的，只是想问问怎么协商",
    "我不想死，我想好好还钱",
    "这个人思想死板",
    "借呗逾期三个月了怎么办",
    "催收天天打电话给我同事",
    "能不能停息挂账",
    "利息是不是太高了",
    "我想跟平台协商分期",
    "",
]


@pytest.mark.parametrize("text", POSITIVE)
def test_positive(text):
    assert is_crisis(text), text


@pytest.mark.parametrize("text", NEGATIVE)
def test_negative(text):
    assert not is_crisis(text), (text, match(text))


def test_enough_phrases():
    assert len(POSITIVE) >= 25 and len(NEGATIVE) >= 15


def test_none_is_not_crisis():
    assert not is_crisis(None)


def test_normalise_folds_traditional_case_and_punctuation():
    assert normalise("活著，沒 意思！") == "活着没意思"
    assert normalise("Wo Bu Xiang") == "wobuxiang"


def test_reply_has_verified_hotlines_and_caveat():
    reply = crisis_reply()
    assert "12356" in reply and "心理援助" in reply
    assert "110" in reply and "120" in reply
    # 12356 must not be promised as 24-hour everywhere.
    assert "不一定是24小时" in reply
    assert not re.search(r"12356[^。\n]{0,20}24小时(?!.{0,3}不)", reply.replace("不一定是24小时", ""))
    # No unverified crisis lines (research 5.15).
    for unverified in ("82951332", "400-161-9995", "希望24"):
        assert unverified not in reply
    assert "[[" not in reply
    # Short for a phone and offers to continue.
    assert len(reply.splitlines()) <= 8
    assert "一起" in reply


def test_reply_uses_only_known_numbers():
    numbers = set(re.findall(r"\d{3,}", crisis_reply()))
    assert numbers <= {"12356", "110", "120", "24"}, numbers

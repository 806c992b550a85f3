"""The fact base (content/facts.yml) and the citation discipline of ALL content YAML.

These tests protect every content file under xieshang/content/, including other helpers' files:
markers must resolve, nothing cites an article by hand, and no claim found wrong by the research
(its section 10) appears anywhere.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from xieshang import facts
from xieshang.content import CONTENT_DIR

# Row numbers of sections 1–9 of the research file (legal-facts.md), copied here because tests never
# read /work/shared. A fact id that is not one of these is a typo.
RESEARCH_ROWS = set(
    """
    1.1 1.2 1.3 1.4 1.5 1.6 1.7 1.8 1.9 1.10 1.11 1.12 1.13 1.14 1.15 1.16 1.17 1.18 1.19 1.20
    1.21 1.22 1.23 1.24 1.25 1.26 1.27 1.28 1.29 1.30 1.31 1.32 1.33 1.34 1.35 1.36 1.37 1.38 1.39
    1.40 1.41 1.42 1.43 1.44 1.45 1.46 1.47
    2.1 2.2 2.3 2.4 2.5 2.6 2.7 2.8 2.9 2.10 2.11 2.12 2.13 2.14 2.15 2.16 2.17 2.18 2.19
    3.1 3.2 3.3 3.4 3.5 3.6 3.7 3.8 3.9
    4.1 4.2 4.3 4.4 4.5 4.6 4.7 4.8 4.9 4.10
    5.1 5.2 5.3 5.4 5.5 5.6 5.7 5.8 5.9 5.10 5.11 5.12 5.13 5.14 5.15
    6.1 6.2 6.3 6.4 6.5
    7.1 7.2 7.3 7.4 7.5 7.6
    8.1 8.2 8.3 8.4 8.5 8.6 8.7 8.8 8.9
    9.1 9.2 9.3 9.4 9.5
    """.split()
)
# Rows that are entirely UNVERIFIED in the research: they must never enter the fact base.
UNVERIFIED_ROWS = {"2.10", "2.14", "2.17", "5.9", "8.9"}

# Facts content relies on (answers, crisis, APR, escalation); removing one breaks features.
ESSENTIAL = {
    "1.2", "1.6", "1.15", "1.18", "1.20", "1.21", "1.39", "1.41", "1.42", "1.43", "1.45",
    "2.2", "2.5", "2.7", "2.18", "3.1", "3.3", "3.4", "3.6", "3.8", "3.9",
    "4.2", "4.4", "4.5", "5.1", "5.4", "5.5", "5.6", "5.10", "5.14", "5.15",
    "6.2", "6.3", "6.4", "7.1", "7.5", "8.2", "8.5", "8.7", "9.1", "9.2", "9.3", "9.4", "9.5",
}

REQUIRED = ("id", "instrument", "article", "kind", "summary", "cite", "source", "confidence")
CONFIDENCE = {"verified_text", "verified_report"}

# Entries that record an outdated rule on purpose, so that the bot can say "that is old": the
# wrong-claim scan skips their text (their wording names the outdated rule).
HISTORICAL = {"1.47", "3.5"}

# Claims section 10 of the research found wrong, outdated or unsupported.
WRONG_CLAIMS = [
    (r"只有深圳", "10.1 only Shenzhen has personal bankruptcy (outdated since Xiamen 2025-11-01)"),
    (r"公约.{0,12}第十六条", "10.2 公约 art. 16 is about civil language, not hours"),
    (r"公约.{0,12}第十八条.{0,12}借新还旧", "10.2 公约 art. 18 is about disclosure"),
    (r"8[:：点]00?\s*[-–—至到~]\s*21|8点\s*[-–—至到~]\s*21点|21[:：]00\s*[-–—至到~]\s*0?8", "10.2 8–21 windows"),
    (r"22[:：]00\s*[-–—至到~]\s*0?6[:：]|22点\s*[-–—至到~]\s*(次日)?0?6点", "10.6 22:00–6:00 window"),
    (r"9[:：]00\s*[-–—至到~]\s*17[:：]00", "2.18 weekday 9–17 only"),
    (r"13\.8\s*%", "10.3 LPR×4 = 13.8%"),
    (r"24\s*%\s*以下受保护|24\s*%\s*以内受(法律)?保护", "10.4 24% protected as current law"),
    (r"36\s*%\s*以上(的部分)?(一律)?无效", "10.4 36% void as current law"),
    (r"失信.{0,30}第十条", "10.5 失信 period is not art. 10"),
    (r"个人信息保护法.{0,6}修订案|修订后的个人信息保护法", "10.6 no PIPL amendment"),
    (r"超过\s*3\s*条.{0,6}(催收)?短信.{0,6}(即)?构成骚扰", "10.6 fabricated 3-SMS rule"),
    (r"胜诉率", "10.6 unsourced statistics"),
    (r"2012年.{0,20}银保监会", "10.7 12378/银保监会 history"),
    (r"不会再产生新的利息|停息挂账.{0,10}不再(计|产生)利息|法律赋予.{0,6}协商分期的权利", "10.8 停息挂账 overstated"),
    (r"停息挂账.{0,8}是.{0,4}法定权利", "10.8 停息挂账 is not a right"),
    (r"罚决字|300万元", "10.9 uncorroborated fine"),
    (r"1\.2万件", "10.9 uncorroborated complaint count"),
    (r"第四十二条|第42条", "10.11 治安法 old art. 42"),
    (r"五百元以下罚款|500元以下罚款", "10.11 old 500-yuan fine"),
    (r"12378.{0,12}24\s*小时", "10.13 12378 24h unverified"),
    (r"任何情况下.{0,6}不(能|得|可以)联系", "10.12 nuanced: contacts may be contacted in limited cases"),
    (r"3次.{0,8}(是|属于)?(国家)?法律(规定)?", "2.18 3 calls/day is not national law"),
]

HANDWRITTEN_ARTICLE = re.compile(r"第\s*[一二三四五六七八九十百千零〇两0-9]+\s*条")
ANY_MARKER = re.compile(r"\[\[([^\]]*)\]\]")


def _raw_facts():
    return yaml.safe_load((CONTENT_DIR / "facts.yml").read_text(encoding="utf-8"))["facts"]


def _content_files():
    return sorted(CONTENT_DIR.rglob("*.yml")) + sorted(CONTENT_DIR.rglob("*.yaml"))


def _strings(node):
    """Every string in a parsed YAML tree (keys and values)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _strings(item)


def _scannable_text(path: Path) -> str:
    """The text of a content file, minus the historical facts that name outdated rules."""
    if path.name == "facts.yml":
        rows = [r for r in _raw_facts() if str(r.get("id")) not in HISTORICAL]
        return "\n".join(_strings(rows))
    return path.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------ fact base


def test_ids_are_quoted_strings_and_unique():
    ids = [row["id"] for row in _raw_facts()]
    assert all(isinstance(i, str) for i in ids), [i for i in ids if not isinstance(i, str)]
    assert len(ids) == len(set(ids))


def test_every_id_is_a_research_row():
    ids = {row["id"] for row in _raw_facts()}
    assert ids <= RESEARCH_ROWS, sorted(ids - RESEARCH_ROWS)


def test_no_entirely_unverified_row_is_in_the_fact_base():
    ids = {row["id"] for row in _raw_facts()}
    assert not ids & UNVERIFIED_ROWS


def test_essential_facts_present():
    assert ESSENTIAL <= set(facts.all_facts()), sorted(ESSENTIAL - set(facts.all_facts()))


@pytest.mark.parametrize("row", _raw_facts(), ids=lambda r: str(r.get("id")))
def test_required_fields_and_values(row):
    for key in REQUIRED:
        assert key in row, f"{row.get('id')}: missing {key}"
        assert isinstance(row[key], str), f"{row.get('id')}: {key} must be a string"
    for key in ("id", "kind", "summary", "cite", "source", "confidence"):
        assert row[key].strip(), f"{row['id']}: empty {key}"
    assert row["kind"] in facts.KIND_LABELS, row["kind"]
    assert row["confidence"] in CONFIDENCE, row["confidence"]
    if row["kind"] != "fact":
        assert row["instrument"].strip(), f"{row['id']}: a rule needs its instrument"
    # Chinese text, in our own words, short.
    assert re.search(r"[\u4e00-\u9fff]", row["summary"])
    assert re.search(r"[\u4e00-\u9fff]", row["cite"])
    assert len(row["summary"]) <= 260, f"{row['id']}: summary too long"
    # A citation never contains a marker (render would not expand it) nor a bare arabic article.
    assert not facts.markers(row["cite"])
    assert not re.search(r"第\s*\d+\s*条", row["cite"]), f"{row['id']}: use Chinese numerals in cite"
    if "checked" in row:
        assert re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])", str(row["checked"]))


def test_statute_cites_name_the_instrument():
    for fact in facts.all_facts().values():
        if fact.kind in {"statute", "administrative_regulation", "judicial_interpretation"}:
            assert "《" in fact.cite and "》" in fact.cite, fact.id
        if fact.article and fact.kind in {"statute", "administrative_regulation"} and fact.id != "1.40":
            assert HANDWRITTEN_ARTICLE.search(fact.cite), f"{fact.id}: cite lacks its article"


def test_changing_figures_carry_a_check_date():
    rows = {row["id"]: row for row in _raw_facts()}
    assert rows["3.6"]["checked"] == "2026-07"
    assert float(rows["3.6"]["value"]) == 3.0
    assert "3.0%" in rows["3.6"]["cite"]


def test_known_citations_render_exactly():
    assert facts.cite("1.41") == "《治安管理处罚法》（2025年修订）第五十条"
    assert facts.cite("1.18") == "《中华人民共和国个人信息保护法》第二十三条"
    assert facts.cite("1.15") == "《中华人民共和国个人信息保护法》第十五条"
    assert facts.cite("1.21") == "《中华人民共和国个人信息保护法》第五十条"
    assert facts.cite("1.2") == "《中华人民共和国民法典》第一千零三十三条"
    assert facts.cite("1.6") == "《中华人民共和国民法典》第一千零三十八条"
    assert facts.cite("2.5") == "国家标准 GB/T 45251—2025"
    assert facts.cite("7.5") == "《商业银行信用卡业务监督管理办法》第七十条"
    assert facts.render("依据[[1.41]]。") == "依据《治安管理处罚法》（2025年修订）第五十条。"


def test_kinds_distinguish_law_from_standards():
    f = facts.all_facts()
    assert f["1.41"].is_law and f["1.18"].is_law and f["3.1"].is_law and f["4.2"].is_law
    for standard_or_norm in ("2.2", "2.3", "2.5", "2.7", "2.18"):
        assert not f[standard_or_norm].is_law, standard_or_norm
    assert f["2.5"].kind == "national_standard"
    assert f["2.2"].kind == "self_regulation" and f["2.7"].kind == "self_regulation"


def test_unknown_marker_raises():
    with pytest.raises(KeyError):
        facts.render("[[1.99]]")


def test_personal_bankruptcy_facts_not_shenzhen_only():
    f = facts.all_facts()
    assert "深圳" in f["6.2"].cite and "厦门" in f["6.3"].cite
    assert "浙江" in f["6.4"].summary and "江苏" in f["6.4"].summary


# ------------------------------------------------------------------------- all content YAML files


def test_content_files_exist_and_parse():
    files = _content_files()
    assert any(p.name == "facts.yml" for p in files)
    for path in files:
        yaml.safe_load(path.read_text(encoding="utf-8"))  # raises on broken YAML


@pytest.mark.parametrize("path", _content_files(), ids=lambda p: p.name)
def test_every_marker_resolves(path):
    known = set(facts.all_facts())
    text = path.read_text(encoding="utf-8")
    found = [m for s in _strings(yaml.safe_load(text)) for m in ANY_MARKER.findall(s)]
    bad = [m for m in found if m not in known]
    assert not bad, f"{path.name}: unknown or malformed markers {bad}"
    # A marker written as YAML flow syntax would vanish (`key: [[1.41]] ...` unquoted is a YAML
    # list, not text): every marker outside comment lines must survive parsing.
    raw = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert len(found) >= len(ANY_MARKER.findall(raw)), f"{path.name}: quote strings that hold markers"


@pytest.mark.parametrize("path", _content_files(), ids=lambda p: p.name)
def test_no_handwritten_article_outside_facts(path):
    if path.name == "facts.yml":
        return
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = HANDWRITTEN_ARTICLE.search(line)
        assert not m, f"{path.name}:{lineno}: hand-written {m.group(0)!r}; cite with a [[id]] marker"


@pytest.mark.parametrize("path", _content_files(), ids=lambda p: p.name)
def test_no_wrong_claim_in_content(path):
    text = _scannable_text(path)
    for pattern, why in WRONG_CLAIMS:
        m = re.search(pattern, text)
        assert not m, f"{path.name}: {m.group(0)!r} ({why})"


def test_wrong_claim_patterns_do_catch_the_claims():
    samples = [
        "破产只有深圳可以申请",
        "依据治安管理处罚法第四十二条",
        "LPR四倍，2025年为13.8%",
        "年利率24%以下受保护",
        "停息挂账期间不会再产生新的利息",
        "12378是24小时热线",
        "晚上22:00-6:00不能催收",
        "公约第十六条规定8:00-22:00",
    ]
    for sample in samples:
        assert any(re.search(p, sample) for p, _ in WRONG_CLAIMS), sample
    for fine in ("22:00至次日08:00不得催收", "一年期LPR 3.0%，4倍为12%", "深圳、厦门都有个人破产条例"):
        assert not any(re.search(p, fine) for p, _ in WRONG_CLAIMS), fine

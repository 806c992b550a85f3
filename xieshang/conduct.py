"""Collector-conduct checker: "was this legal?" answered from what the collector actually did.

The user pastes a collector's SMS or describes a call ("昨晚11点打了8个电话，还打给我领导说我诈骗").
:func:`check` finds what happened — time of day, calls per day, who was contacted, insults, threats,
impersonating a court/police/lawyer, fake legal documents, demands to pay into a personal account,
disclosing the debt — and for each finding names the rules it breaks, from ``content/facts.yml``
only, keeping statutes (法律) apart from the national standard and self-regulation (行业规范). It ends
with what to do: the complaint channel for the lender's kind (the complaint flow's own list in
``content/escalation.yml``) and, for threats, the police. :func:`render` turns the report into a
short reply for a phone screen.

Patterns, word lists, rule citations, advice and reply templates are in ``content/conduct.yml``;
this module is the logic. A finding is only reported for something that happened or was
threatened: worries and questions ("会不会打给我家人？") and the user's own acts ("我告诉了我妈")
are not findings, and a polite reminder to the debtor in the daytime yields none.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Optional, Tuple

from xieshang import facts as fact_base
from xieshang.content import load
from xieshang.nlu.extract import extract, platform_kind
from xieshang.nlu.text import normalise
from xieshang.timeexpr import find_times, local_now, small_number

MAX_CHARS = 4000
SENTENCE_END = re.compile(r"[。！？!?\n]+")
CLAUSE_END = re.compile(r"[，,；;。！？!?\n]+|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
# Who is speaking or acting, when the text names them before a verb.
COLLECTOR_SUBJECT = re.compile(
    r"催收|cs|他们|他|她|对方|那边|那个人|那人|这个号|号码|平台|客服|公司|机构|律所|法务|外访|有人|一个人|一个男的|一个女的|"
    r"自称|陌生"
)
CALL_CUE = re.compile(r"打|电话|来电|call|响")
ACT_CUE = re.compile(r"打|电话|来电|call|短信|信息|消息|微信|上门|敲门|催|响|骚扰|联系|发")
QUESTION_END = re.compile(r"(?:吗|嘛|么|呢|没有|不)\s*[?？]*\s*$|[?？]\s*$")
SPEECH = re.compile(r"说|威胁|扬言|声称|称|讲|放话|发来|短信|消息|写着|通知")
AGGREGATE = re.compile(r"一共|总共|累计|加起来|前前后后|这几天|最近|这段时间|这些天|几天")
COLLECTOR_VOICE = re.compile(r"您|【|我司|我方|本公司|本平台|本机构|贵方|阁下")
NEGATED = re.compile(r"(?:没有?|不|并没有?|从没|没跟)$")
CONDITIONAL = re.compile(r"如果|要是|假如|若是?不|再不|不还|否则|不然|的话|不处理|不联系|不接|不回")
RECEIVED = re.compile(r"接到|收到|接了|被|来电|打来|打过来|打进来|找上门|响")
UNANSWERED = re.compile(r"未接|没接|不接|没有接|不敢接|没敢接|挂断|挂了|拒接|拉黑|静音")
BANK_KIND_DEFAULT = "unknown"


# ----------------------------------------------------------------------------------- data classes


@dataclass(frozen=True)
class Citation:
    fact_id: str
    level: str          # breach | possible | info
    cite: str
    kind: str           # the fact's kind: statute, national_standard, self_regulation, ...
    kind_label: str
    is_law: bool


@dataclass
class Finding:
    kind: str
    title: str
    breach: bool
    severity: int
    explain: str
    rules: List[Citation]
    quote: str = ""
    details: List[str] = field(default_factory=list)
    mode: str = "actual"     # actual | threat
    start: int = 0

    @property
    def detail(self) -> str:
        return "、".join(self.details)

    @property
    def fact_ids(self) -> List[str]:
        return [c.fact_id for c in self.rules]

    @property
    def statutes(self) -> List[Citation]:
        """Laws (statutes, regulations, judicial interpretations) this breaks."""
        return [c for c in self.rules if c.level == "breach" and c.is_law]

    @property
    def standards(self) -> List[Citation]:
        """The national standard and industry self-regulation this breaks (complaint grounds)."""
        return [c for c in self.rules if c.level == "breach" and not c.is_law]

    @property
    def possible(self) -> List[Citation]:
        """Laws that may apply if it is serious, repeated or proven (for police and courts to decide)."""
        return [c for c in self.rules if c.level == "possible"]


@dataclass
class Report:
    text: str
    findings: List[Finding]
    lender_kind: str = BANK_KIND_DEFAULT
    platform: Optional[str] = None
    advice: List[str] = field(default_factory=list)
    advice_keys: List[str] = field(default_factory=list)

    @property
    def breaches(self) -> List[Finding]:
        return [f for f in self.findings if f.breach]

    @property
    def notes(self) -> List[Finding]:
        return [f for f in self.findings if not f.breach]

    @property
    def has_breach(self) -> bool:
        return bool(self.breaches)

    @property
    def kinds(self) -> List[str]:
        return [f.kind for f in self.findings]

    @property
    def severity(self) -> int:
        return max((f.severity for f in self.findings), default=0)

    @property
    def police(self) -> bool:
        return "police" in self.advice_keys

    @property
    def fact_ids(self) -> List[str]:
        seen: List[str] = []
        for f in self.findings:
            for fid in f.fact_ids:
                if fid not in seen:
                    seen.append(fid)
        return seen

    def summary(self) -> str:
        """One line for a complaint or a diary entry: the titles of the breaches."""
        return "；".join(f.title for f in self.breaches)


# ----------------------------------------------------------------------------------- configuration


def _words(value: Any) -> str:
    return re.sub(r"\s+", "", str(value or ""))


class _Config:
    def __init__(self) -> None:
        c = load("conduct")
        self.raw = c
        self.words = {k: _words(v) for k, v in c["words"].items()}
        self.kinds: Dict[str, Dict[str, Any]] = c["kinds"]
        self.render = c["render"]
        self.limits = c["limits"]
        self._check_facts()

        w = self.words
        sub = lambda s: re.sub(r"\{([a-z_]+)\}", lambda m: f"(?:{w[m.group(1)]})" if m.group(1) in w else m.group(0), s)  # noqa: E731
        self.patterns: List[Tuple[str, Dict[str, Any], re.Pattern]] = []
        for kind, spec in c["patterns"].items():
            if kind not in self.kinds:
                raise ValueError(f"conduct.yml: patterns for unknown kind {kind}")
            for rx in spec["regex"]:
                if spec.get("first_person"):
                    rx = rx.replace("你", "[你我]")
                self.patterns.append((kind, spec, re.compile(sub(rx))))
        self.mode_words = {k: re.compile(w[k]) for k in ("hypothetical", "future", "past")}
        self.self_subject = re.compile(rf"(?:^|[^给跟和与对向找骂让叫帮被打问催把说告])(?:{w['self_subject']})\s*$")

        ct = c["contacts"]
        self.group_labels: Dict[str, str] = dict(ct["groups"])
        groups = "|".join(f"(?P<{g}>{w[g]})" for g in self.group_labels)
        poss = ct["possessive"]
        self.contact_before = re.compile(rf"(?P<verb>{w['contact_verb']})(?P<le>了)?(?P<poss>{poss})(?:{groups})")
        self.contact_phone = re.compile(
            rf"(?P<verb>打了?|拨打了?|拨了?|call了?)(?P<le>了)?(?P<poss>{poss})(?:{groups})(?:的)?(?:电话|手机|座机|号码|号)")
        self.contact_after = re.compile(rf"(?P<poss>{poss})(?:{groups})(?P<after>{w['contacted_after']})")
        self.not_after = re.compile(ct["not_after"])
        self.blast = re.compile(ct["blast"])
        self.venue = re.compile(ct["venue"])
        self.disclose = re.compile(sub(ct["disclose"]))
        self.disclose_direct = re.compile(sub(ct["disclose_direct"]))
        self.knows = re.compile(sub(ct["knows"]))
        self.defame = re.compile(sub(ct["defame"]))
        self.doctored = re.compile(sub(ct["doctored"]))
        self.own_people = re.compile("我(?:的)?(?:{})".format("|".join(w[g] for g in ("family", "work", "friends"))))
        self.crime_words = re.compile(r"诈骗|犯罪|罪犯|逃犯|通缉|被抓|坐过牢|吸毒|卷款|跑路")

        fr = c["frequency"]
        num = r"(?P<n>[0-9]{1,3}|[一二两三四五六七八九十百]{1,4}几?)(?P<more>多|来)?"
        self.count_after = re.compile(rf"{num}\s*(?:个|通|次|条)?\s*(?P<what>{_words(fr['call_after'])})")
        self.count_before = re.compile(rf"(?:{_words(fr['call_before'])})\s*(?:了|过)?\s*(?:我|我的)?\s*{num}\s*(?:个|通|次|遍)(?!小时|月|星期|礼拜)")
        self.count_day = re.compile(
            rf"(?:一天|每天|天天|一晚上|一上午|一下午|今天|昨天)(?:都|就|要|能)?(?:打)?(?:了)?\s*{num}\s*(?:个|次|通|遍)(?!小时|月|星期|礼拜|人)")
        self.freq_day = re.compile(_words(fr["day"]))
        self.freq_week = re.compile(_words(fr["week"]))
        self.freq_month = re.compile(_words(fr["month"]))
        self.freq_vague = re.compile(_words(fr["vague"]))

        self.lenders = [(k, re.compile(_words(v))) for k, v in c["lenders"].items()]
        self.lender_groups = {k: set(v) for k, v in c["lender_groups"].items()}

    def _check_facts(self) -> None:
        known = fact_base.all_facts()
        missing = []
        for kind, spec in self.kinds.items():
            for rule in spec.get("rules", []):
                if str(rule["fact"]) not in known:
                    missing.append(f"{kind}:{rule['fact']}")
            missing += [f"{kind}:{m}" for m in fact_base.markers(spec.get("explain", "")) if m not in known]
        for key, text in self.raw["advice"].items():
            missing += [f"advice.{key}:{m}" for m in fact_base.markers(text) if m not in known]
        if missing:
            raise ValueError(f"conduct.yml cites facts absent from facts.yml: {missing}")


@lru_cache(maxsize=1)
def config() -> _Config:
    return _Config()


def cited_fact_ids() -> List[str]:
    """Every fact id conduct.yml can cite (rules and [[id]] markers), for tests and audits."""
    c = config()
    ids: List[str] = []
    for spec in c.kinds.values():
        ids += [str(r["fact"]) for r in spec.get("rules", [])]
        ids += fact_base.markers(spec.get("explain", ""))
    for text in c.raw["advice"].values():
        ids += fact_base.markers(text)
    return sorted(set(ids))


# ----------------------------------------------------------------------------------- text helpers


class _Text:
    """The normalised text with its sentence and clause boundaries."""

    def __init__(self, text: str) -> None:
        s = normalise(text)[:MAX_CHARS]
        # a pasted message in the collector's own words: its 我/我们 is the collector
        self.collector_voice = bool(COLLECTOR_VOICE.search(s))
        self.s = s.replace("您", "你")  # one character for one: offsets stay valid
        self.sentences = self._spans(SENTENCE_END)
        self.clauses = self._spans(CLAUSE_END)

    def _spans(self, sep: re.Pattern) -> List[Tuple[int, int]]:
        spans, start = [], 0
        for m in sep.finditer(self.s):
            spans.append((start, m.start()))
            start = m.end()
        spans.append((start, len(self.s)))
        return [(a, b) for a, b in spans if b > a] or [(0, len(self.s))]

    @staticmethod
    def _find(spans: List[Tuple[int, int]], pos: int) -> Tuple[int, int]:
        for a, b in spans:
            if a <= pos < b or (pos == b and a < b):
                return a, b
        return (0, 0)

    def sentence(self, pos: int) -> Tuple[int, int]:
        return self._find(self.sentences, pos)

    def clause(self, pos: int) -> Tuple[int, int]:
        return self._find(self.clauses, pos)

    def quote(self, pos: int) -> str:
        a, b = self.clause(pos)
        sa, sb = self.sentence(pos)
        text = self.s[sa:sb].strip() if sb - sa <= config().render["max_quote"] else self.s[a:b].strip()
        limit = int(config().render["max_quote"])
        return text if len(text) <= limit else text[: limit - 1] + "…"


def _mode(t: _Text, pos: int) -> str:
    """hypo (a worry or question), threat (will/would), past (happened) or none, from the nearest
    marker before ``pos`` in its clause; a question without reported speech is a worry."""
    c = config()
    a, _ = t.clause(pos)
    before = t.s[a:pos]
    worry = [m for m in c.mode_words["hypothetical"].finditer(before)]
    # "催收说他们随时可以来抓我": a modal word inside reported speech is part of the threat
    sa, _ = t.sentence(pos)
    if worry and not SPEECH.search(before[worry[-1].end():]) and not SPEECH.search(t.s[sa: a + worry[-1].start()]):
        return "hypo"
    best: Optional[Tuple[Tuple[int, int], str]] = None
    for name, rx in c.mode_words.items():
        if name == "hypothetical" and worry:
            continue  # inside reported speech: "说…可以来抓我" is a threat
        for m in rx.finditer(before):
            key = (m.end(), m.end() - m.start())
            if best is None or key > best[0]:
                best = (key, name)
    mode = {"hypothetical": "hypo", "future": "threat", "past": "past"}[best[1]] if best else "none"
    if mode == "none":
        # "如果不还，就打给你家人": the condition sits in an earlier clause of the sentence
        sa, _ = t.sentence(pos)
        if sa < a and CONDITIONAL.search(t.s[sa:a]):
            mode = "threat"
    if mode == "threat":
        sa, sb = t.sentence(pos)
        sentence = t.s[sa:sb]
        if QUESTION_END.search(sentence) and not SPEECH.search(t.s[sa:pos]):
            return "hypo"
    return mode


def _done_after(t: _Text, pos: int) -> bool:
    """The clause goes on to say it was done ("P了发到了群里", "已经发到群里")."""
    _, b = t.clause(pos)
    return bool(re.search(r"了|过|已经|已", t.s[pos:b]))


def _self_acting(t: _Text, pos: int) -> bool:
    """The user is the subject of the verb at ``pos`` ("我告诉了我妈", "我给客服打了5个电话")."""
    a, b = t.clause(pos)
    before = t.s[a:pos]
    if t.collector_voice or RECEIVED.search(t.s[a:b]) or re.search(r"[你您]", t.s[a:b]):
        return False
    if config().self_subject.search(before):
        return True
    stripped = re.sub(r"^(?:今天|昨天|前天|刚才|刚刚|早上|晚上|上午|下午|然后|后来|结果|而且|还有|所以|但是)+", "", before)
    if not stripped.startswith("我") or config().own_people.match(stripped):
        return False
    # a collector named as the subject ("我这边催收打了…"), not as an object ("我给客服打了…")
    return not any(m.start() == 0 or stripped[m.start() - 1] not in "给跟和向找问对打联"
                   for m in COLLECTOR_SUBJECT.finditer(stripped))


# ----------------------------------------------------------------------------------- detectors


@dataclass
class _Hit:
    kind: str
    start: int
    mode: str = "actual"
    detail: Optional[str] = None
    source: str = ""


def _contacts(t: _Text) -> List[Tuple[str, str, str, int]]:
    """(group, word, mode, position) for every third party the text says was contacted or threatened."""
    c = config()
    out = []
    for rx, verb in ((c.contact_before, True), (c.contact_phone, True), (c.contact_after, False)):
        for m in rx.finditer(t.s):
            group = next(g for g in c.group_labels if m.group(g))
            word = (m.group("poss") or "") + m.group(group)
            if c.not_after.match(t.s, m.end()) and verb:
                continue
            if verb:
                v = m.group("verb")
                if v == "给" and m.start() > 0 and t.s[m.start() - 1] in "借还交送递带寄卖转":
                    continue
                poss = m.group("poss") or ""
                if not poss.startswith("你") and _self_acting(t, m.start()):
                    continue
            mode = _mode(t, m.start("verb") if verb else m.start())
            if verb and m.group("le"):
                mode = "past"
            if mode == "hypo":
                continue
            out.append((group, word, "threat" if mode == "threat" else "actual", m.start()))
    return out


def contacted(text: str) -> List[Tuple[str, str, str]]:
    """(group label, the words used, actual|threat) for each third party the text says a collector
    contacted or threatened to contact ("打给我妈" → ('家人', '我妈', 'actual'))."""
    if not isinstance(text, str) or not text.strip():
        return []
    c = config()
    return [(c.group_labels[g], w, mode) for g, w, mode, _ in _contacts(_Text(text))]


def _third_party_in(t: _Text, contacts, pos: int) -> bool:
    a, b = t.sentence(pos)
    if any(a <= p < b and mode == "actual" for _, _, mode, p in contacts):
        return True
    return bool(_venue(t.s[a:b]))


def _venue(text: str) -> bool:
    return bool(config().venue.search(text))


def _detect_contacts(t: _Text, hits: List[_Hit]) -> List[Tuple[str, str, str, int]]:
    c = config()
    contacts = _contacts(t)
    for group, word, mode, pos in contacts:
        label = c.group_labels[group]
        if mode == "threat":
            hits.append(_Hit("exposure_threat", pos, "threat", f"说要找你的{label}", "contact"))
        elif group == "all_contacts":
            hits.append(_Hit("contacts_blast", pos, detail=label, source="contact"))
        elif group == "emergency":
            hits.append(_Hit("emergency_contact", pos, detail=label, source="contact"))
        else:
            hits.append(_Hit("third_party_contact", pos, detail=label, source="contact"))
    for m in c.blast.finditer(t.s):
        mode = _mode(t, m.start())
        if mode == "hypo" or _self_acting(t, m.start()):
            continue
        if mode == "threat":
            hits.append(_Hit("exposure_threat", m.start(), "threat", "说要爆通讯录", "blast"))
        else:
            hits.append(_Hit("contacts_blast", m.start(), source="blast"))
    return contacts


def _detect_disclosure(t: _Text, contacts, hits: List[_Hit]) -> None:
    c = config()
    for rx, needs_third in ((c.disclose, True), (c.disclose_direct, False), (c.knows, False)):
        for m in rx.finditer(t.s):
            if NEGATED.search(t.s[max(0, m.start() - 3):m.start()]):
                continue  # "没说我欠钱"
            mode = _mode(t, m.end() - 1)
            if mode == "hypo" or _self_acting(t, m.start()):
                continue
            if mode == "threat":
                if needs_third and not _third_party_in_any(t, contacts, m.start()):
                    continue
                hits.append(_Hit("exposure_threat", m.start(), "threat", "说要告诉别人你欠钱", "disclose"))
                continue
            if needs_third and not _third_party_in(t, contacts, m.start()):
                continue
            hits.append(_Hit("disclosure", m.start(), source="disclose"))


def _third_party_in_any(t: _Text, contacts, pos: int) -> bool:
    a, b = t.sentence(pos)
    return any(a <= p < b for _, _, _, p in contacts) or _venue(t.s[a:b])


def _detect_defamation(t: _Text, contacts, hits: List[_Hit]) -> None:
    c = config()
    for m in c.defame.finditer(t.s):
        mode = _mode(t, m.end() - 1)
        if mode == "hypo" or _self_acting(t, m.start()):
            continue
        if mode == "threat":
            if _third_party_in_any(t, contacts, m.start()):
                hits.append(_Hit("exposure_threat", m.start(), "threat", "说要告诉别人你是骗子", "defame"))
            continue
        if _third_party_in(t, contacts, m.start()):
            hits.append(_Hit("defamation", m.start(), source="defame"))
        elif c.crime_words.search(m.group(0)):
            hits.append(_Hit("legal_scare", m.start(), source="defame"))
        else:
            hits.append(_Hit("insult", m.start(), source="defame"))


def _detect_patterns(t: _Text, hits: List[_Hit]) -> None:
    c = config()
    for kind, spec, rx in c.patterns:
        for m in rx.finditer(t.s):
            mode = _mode(t, m.start())
            context = spec.get("context", "any")
            if mode == "hypo" and (spec.get("skip_questions") or context in ("actual", "threat")):
                continue
            if _self_acting(t, m.start()):
                continue
            if context == "actual":
                if mode == "threat":
                    continue
                hits.append(_Hit(kind, m.start(), "actual"))
            elif context == "threat":
                if mode == "none" and _done_after(t, m.start()):
                    mode = "past"
                if mode == "past" and spec.get("actual_kind"):
                    hits.append(_Hit(spec["actual_kind"], m.start(), "actual"))
                else:
                    hits.append(_Hit(kind, m.start(), "threat"))
            else:
                hits.append(_Hit(kind, m.start(), "threat" if mode == "threat" else "actual"))
    for m in c.doctored.finditer(t.s):
        mode = _mode(t, m.start())
        if mode == "none" and _done_after(t, m.start()):
            mode = "past"
        if mode == "hypo":
            continue
        hits.append(_Hit("exposure_threat" if mode == "threat" else "exposure", m.start(), mode))


def _detect_night(t: _Text, now: datetime, hits: List[_Hit]) -> None:
    for tm in find_times(t.s, now):
        if tm.deadline or not tm.night:
            continue
        a, b = t.sentence(tm.start)
        sentence = t.s[a:b]
        if not ACT_CUE.search(sentence):
            continue
        mode = _mode(t, tm.start)
        if mode in ("hypo", "threat") or _self_acting(t, tm.start):
            continue
        detail = tm.clock() if tm.hour is not None else tm.text
        hits.append(_Hit("night_call", tm.start, detail=detail))


def _detect_frequency(t: _Text, hits: List[_Hit]) -> None:
    c = config()
    best: Dict[Tuple[int, int], Tuple[int, int, bool, str]] = {}
    for rx in (c.count_after, c.count_before, c.count_day):
        for m in rx.finditer(t.s):
            if rx is c.count_day and not CALL_CUE.search(t.s[slice(*t.sentence(m.start()))]):
                continue
            n = small_number(m.group("n"))
            if not n or n > 500:
                continue
            mode = _mode(t, m.start())
            if mode in ("hypo", "threat") or _self_acting(t, m.start()):
                continue
            span = t.sentence(m.start())
            sentence = t.s[span[0]:span[1]]
            unanswered = bool(UNANSWERED.search(m.group(0)) or UNANSWERED.search(sentence))
            if c.freq_week.search(sentence):
                per_day, unit = n / 7.0, "一周"
            elif c.freq_month.search(sentence):
                per_day, unit = n / 30.0, "一个月"
            elif AGGREGATE.search(sentence) and not c.freq_day.search(sentence):
                continue
            else:
                per_day, unit = float(n), "一天"
            limit = c.limits["unanswered_attempts_per_day"] if unanswered else c.limits["effective_calls_per_day"]
            if per_day > float(limit):
                more = "多" if m.group("more") else ""
                detail = f"{unit}{n}{more}次" if unit != "一天" else f"一天{n}{more}次"
                key = span
                if key not in best or n > best[key][0]:
                    best[key] = (n, m.start(), unanswered, detail)
    for _n, pos, _unanswered, detail in best.values():
        hits.append(_Hit("frequent_calls", pos, detail=detail))
    if not best:
        for m in c.freq_vague.finditer(t.s):
            mode = _mode(t, m.start())
            if mode in ("hypo", "threat") or _self_acting(t, m.start()):
                continue
            hits.append(_Hit("frequent_calls", m.start(), detail=m.group(0)))
            break


# ----------------------------------------------------------------------------------- lender kind


def lender_kind_of(text: str, platform: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """(kind, platform) from the lender named in the text; ('unknown', None) when none is named."""
    found_platform = platform or next(
        (ent["value"] for ent in extract(text or "") if ent.get("entity") == "platform"), None)
    kind = platform_kind(found_platform) if found_platform else None
    if kind and kind != "unknown":
        return kind, found_platform
    s = normalise(text or "")
    for k, rx in config().lenders:
        if rx.search(s):
            return k, found_platform
    return BANK_KIND_DEFAULT, found_platform


# ----------------------------------------------------------------------------------- assembly

SUPPRESS = {
    # kind: kinds whose presence makes it redundant
    "visit": {"visit_threat", "intrusion"},
    "intimidation": {"violence_threat"},
    "third_party_contact": {"contacts_blast"},
}


def _citations(kind: str, lender_kind: str) -> List[Citation]:
    c = config()
    out = []
    for rule in c.kinds[kind].get("rules", []):
        when = rule.get("when")
        if when and lender_kind not in c.lender_groups.get(when, set()):
            continue
        f = fact_base.get(str(rule["fact"]))
        out.append(Citation(f.id, rule["level"], f.cite, f.kind, f.kind_label, f.is_law))
    return out


def _explain(kind: str) -> str:
    c = config()
    text = c.kinds[kind].get("explain", "")
    text = text.replace("{effective}", str(c.limits["effective_calls_per_day"]))
    text = text.replace("{attempts}", str(c.limits["unanswered_attempts_per_day"]))
    return fact_base.render(text).strip()


def _findings(t: _Text, hits: List[_Hit], lender_kind: str) -> List[Finding]:
    c = config()
    by_kind: Dict[str, Finding] = {}
    sources: Dict[str, set] = {}
    for h in sorted(hits, key=lambda h: h.start):
        spec = c.kinds[h.kind]
        sources.setdefault(h.kind, set()).add(h.source)
        f = by_kind.get(h.kind)
        if f is None:
            f = Finding(kind=h.kind, title=spec["title"], breach=bool(spec.get("breach")),
                        severity=int(spec.get("severity", 0)), explain=_explain(h.kind),
                        rules=_citations(h.kind, lender_kind), quote=t.quote(h.start), mode=h.mode, start=h.start)
            by_kind[h.kind] = f
        if h.detail and h.detail not in f.details:
            f.details.append(h.detail)
    # legal_scare inferred only from "说我是诈骗犯" is covered by defamation when both are there
    if "defamation" in by_kind and sources.get("legal_scare") == {"defame"}:
        by_kind.pop("legal_scare", None)
    if "contacts_blast" in by_kind and "third_party_contact" in by_kind:
        for d in by_kind["third_party_contact"].details:
            if d not in by_kind["contacts_blast"].details:
                by_kind["contacts_blast"].details.append(d)
    for kind, over in SUPPRESS.items():
        if kind in by_kind and over & set(by_kind):
            by_kind.pop(kind)
    return sorted(by_kind.values(), key=lambda f: (not f.breach, -f.severity, f.start))


def _advice(findings: List[Finding], lender_kind: str, platform: Optional[str]) -> Tuple[List[str], List[str]]:
    c = config().raw
    kinds = {f.kind for f in findings}
    keys = {key for key, ks in c["advice_for"].items() if kinds & set(ks)}
    if any(f.breach for f in findings):
        keys |= {"evidence", "complaint"}
    else:
        keys.add("keep_watching")
    esc = load("escalation")
    name = platform or "这个平台"
    lines: List[str] = []
    ordered = [k for k in c["advice_order"] if k in keys]
    for key in ordered:
        if key == "complaint":
            order = esc["channel_order"].get(lender_kind) or esc["channel_order"]["unknown"]
            for ch in order:
                if ch in ("harassment", "police", "court"):
                    continue
                lines.append(fact_base.render(esc["channels"][ch].format(platform=name)).strip())
        elif key == "harassment":
            lines.append(fact_base.render(esc["channels"]["harassment"]).strip())
        else:
            lines.append(fact_base.render(c["advice"][key]).strip())
    return lines[: int(c.get("max_advice", 6))], ordered


def check(text: Optional[str], now: Optional[datetime] = None, lender_kind: Optional[str] = None,
          platform: Optional[str] = None) -> Report:
    """Check what a collector did (a pasted message or the user's description). Never raises."""
    if not isinstance(text, str) or not text.strip():
        return Report(text=text if isinstance(text, str) else "", findings=[], advice=[], advice_keys=[])
    now = now or local_now()
    t = _Text(text)
    kind, platform = (lender_kind, platform) if lender_kind else lender_kind_of(t.s, platform)
    hits: List[_Hit] = []
    contacts = _detect_contacts(t, hits)
    _detect_disclosure(t, contacts, hits)
    _detect_defamation(t, contacts, hits)
    _detect_patterns(t, hits)
    _detect_night(t, now, hits)
    _detect_frequency(t, hits)
    findings = _findings(t, hits, kind)
    advice, keys = _advice(findings, kind, platform)
    return Report(text=text, findings=findings, lender_kind=kind, platform=platform, advice=advice, advice_keys=keys)


def has_content(text: Optional[str], now: Optional[datetime] = None) -> bool:
    """Whether the text says something a collector did, or only asks for a check ("帮我看看合法吗")."""
    if not isinstance(text, str) or not text.strip():
        return False
    if check(text, now).findings:
        return True
    s = normalise(text)
    if find_times(s, now) or re.search(r"[0-9]{3,}|【|「|“|\"|您|你的|催收说|他们说|他说|对方说|发来|收到", s):
        return True
    rest = re.sub(
        r"帮我|帮忙|麻烦|请|你|看看|看一下|看下|瞧瞧|分析|判断|检查|鉴定|查查|一下|这条|这个|这段|这些|那条|短信|消息|信息|"
        r"微信|电话|录音|内容|催收|合法|违法|违规|合规|犯法|正常|过分|算不算|是不是|有没有|吗|呢|啊|吧|的|了|[\s\W]",
        "", s)
    return len(rest) >= 8


# ----------------------------------------------------------------------------------- rendering


def _join(cites: Iterable[Citation]) -> str:
    seen: List[str] = []
    for c in cites:
        if c.cite not in seen:
            seen.append(c.cite)
    return "；".join(seen)


def render(report: Report) -> str:
    """The report as a short reply for a phone screen: each breach tagged 法律禁止 or 行业规范禁止,
    with its statutes; the standards and self-regulation cited once, marked as not law; then what
    to do."""
    r = config().render
    lines: List[str] = []
    breaches, notes = report.breaches, report.notes
    lines.append(r["header_found"].format(n=len(breaches)) if breaches else r["header_none"])
    shown = breaches[: int(r["max_items"])]
    long_text = len(report.text or "") > 60
    standards: List[Citation] = []
    for i, f in enumerate(shown, 1):
        detail = r["detail"].format(detail=f.detail) if f.detail else ""
        tag = r["tag_law"] if f.statutes else r["tag_standard"]
        lines.append("")
        lines.append(r["item"].format(i=i, title=f.title, detail=detail, tag=tag))
        if long_text and f.quote:
            lines.append(r["quote"].format(quote=f.quote))
        lines.append(f.explain)
        if f.statutes:
            lines.append(r["laws"].format(cites=_join(f.statutes)))
        possible = [c for c in f.possible if c.is_law and c.cite not in {s.cite for s in f.statutes}]
        possible.sort(key=lambda c: len(c.cite))
        if possible:
            lines.append(r["laws_possible"].format(cites=_join(possible[: int(r["max_possible"])])))
        standards += f.standards
    if len(breaches) > len(shown):
        lines.append(r["more"].format(titles="、".join(f.title for f in breaches[len(shown):])))
    if standards:
        lines.append("")
        lines.append(r["standards"].format(cites=_join(standards)))
        lines.append(r["not_law_note"])
    if notes:
        lines.append("")
        lines.append(r["header_notes"])
        for f in notes[: int(r["max_notes"])]:
            lines.append(r["bullet"].format(text=f"{f.title}：{f.explain}"))
    if report.advice:
        lines.append("")
        lines.append(r["todo"])
        for a in report.advice:
            lines.append(r["bullet"].format(text=a))
    return "\n".join(lines).strip()


def check_and_render(text: Optional[str], now: Optional[datetime] = None, lender_kind: Optional[str] = None,
                     platform: Optional[str] = None) -> str:
    return render(check(text, now=now, lender_kind=lender_kind, platform=platform))

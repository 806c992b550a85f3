"""Practice mode: rehearse the negotiation call against a simulated counterpart, then get a scorecard.

Plain Python, no Rasa imports. Content (the counterparts' lines, the patterns, the rubric) lives in
``content/practice.yml``.

The whole session is a small JSON-serialisable dict (``state``) so that the bot can keep it in one
slot. The API:

- :func:`chooser` – the first reply when the user has not picked a counterpart yet;
- :func:`start` – begin a call with ``platform``, ``collector`` or ``bank``;
- :func:`step` – feed one user turn, get the counterpart's reply (or the scorecard at the end);
- :func:`score` / :func:`render_scorecard` – the transparent 100-point rubric.

Every reply is a :class:`Reply` whose ``messages`` already carry the "【练习模式】" prefix.

The counterpart reacts to what the user actually says: a concrete proposal gets a counter-offer,
silence or vague answers get more pressure, citing the law against contacting third parties gets a
retreat, asking for written confirmation gets an answer, agreeing to an impossible demand is noted.
Lines are picked with ``random.Random`` seeded by (session seed, turn, purpose): repeated practice
differs, a test with a fixed seed is deterministic.
"""
from __future__ import annotations

import copy
import math
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Optional, Pattern, Sequence, Tuple

from xieshang.content import load
from xieshang.facts import render as render_facts

COUNTERPARTS = ("platform", "collector", "bank")
STATE_VERSION = 1
MAX_TEXT = 500     # characters of one user turn that are looked at
MAX_QUOTE = 28     # characters of a user turn quoted on the scorecard
MAX_KEPT = 160     # characters of a user turn kept in the state

# Stages of the call, in order.
CHOOSE, IDENTITY, PRESSURE, COUNTER, THREAT, CONCEDE, CLOSING, DONE = (
    "choose", "identity", "pressure", "counter", "threat", "concede", "closing", "done",
)


# --------------------------------------------------------------------------------------------
# content


@lru_cache(maxsize=1)
def _content() -> Dict[str, Any]:
    return load("practice")


def _compile(items: Any) -> List[Pattern[str]]:
    if isinstance(items, str):
        items = [items]
    return [re.compile(p, re.IGNORECASE) for p in items or []]


@lru_cache(maxsize=1)
def _patterns() -> Dict[str, Any]:
    raw = _content()["patterns"]
    out: Dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("negation", "monthly_cue", "lump_cue", "silence"):
            out[key] = re.compile(value, re.IGNORECASE)
        else:
            out[key] = _compile(value)
    return out


def _ui(key: str, **fields: Any) -> str:
    text = _content()["ui"][key]
    return text.format(**fields) if fields else text


def prefix() -> str:
    return _content()["prefix"]


def persona(counterpart: str) -> Dict[str, Any]:
    return _content()["personas"][counterpart]


def rubric() -> List[Dict[str, Any]]:
    return list(_content()["rubric"])


# --------------------------------------------------------------------------------------------
# numbers from the user's turns


def _extract(text: str) -> List[Dict[str, Any]]:
    """Entities from the project's extractor (``xieshang.nlu.extract``); [] if it fails."""
    try:
        from xieshang.nlu.extract import extract
    except ImportError:  # pragma: no cover - the extractor is part of the project
        return []
    try:
        return list(extract(text) or [])
    except Exception:  # pragma: no cover - the extractor must never break a practice call
        return []


def _int(value: Any) -> Optional[int]:
    try:
        number = int(round(float(value)))
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _any(patterns: Iterable[Pattern[str]], text: str) -> Optional[str]:
    for p in patterns:
        m = p.search(text)
        if m:
            return m.group(0)
    return None


def _affirmed(patterns: Iterable[Pattern[str]], text: str) -> Optional[str]:
    """Like :func:`_any`, but a match right after 不/没/别 ("还不上", "没法全部还清") does not count."""
    negation = _patterns()["negation"]
    for p in patterns:
        for m in p.finditer(text):
            before = text[max(0, m.start() - 3): m.start()]
            if not negation.search(before):
                return m.group(0)
    return None


def numbers(text: str) -> Dict[str, Any]:
    """The concrete numbers in one user turn: ``monthly`` (yuan per month), ``periods``, ``lump``
    (a one-off sum offered now) and ``start`` (a start date was named)."""
    pats = _patterns()
    found: Dict[str, Any] = {"monthly": None, "periods": None, "lump": None, "start": False}
    for ent in _extract(text):
        kind, value = ent.get("entity"), _int(ent.get("value"))
        if value is None:
            continue
        if kind == "monthly_payment" and found["monthly"] is None:
            found["monthly"] = value
        elif kind == "installments" and found["periods"] is None and value <= 120:
            found["periods"] = value
        elif kind == "amount":
            start = ent.get("start")
            before = text[max(0, int(start) - 10): int(start)] if isinstance(start, int) else ""
            if pats["monthly_cue"].search(before) and found["monthly"] is None:
                found["monthly"] = value
            elif pats["lump_cue"].search(before) and found["lump"] is None:
                found["lump"] = value
    found["start"] = bool(_any(pats["start_date"], text)) and bool(found["monthly"] or found["periods"] or found["lump"])
    return found


# --------------------------------------------------------------------------------------------
# what the user did in one turn


def analyse(text: str, intent: Optional[str] = None) -> Dict[str, Any]:
    """Moves detected in one user turn (context-free; see :func:`step` for the context-dependent
    ones). Returns a dict of move name -> matched text (truthy) plus ``numbers``."""
    pats = _patterns()
    t = (text or "").strip()[:MAX_TEXT]
    moves: Dict[str, Any] = {}
    if pats["silence"].match(t):
        moves["silence"] = True
        moves["numbers"] = numbers("")
        return moves
    checks = {
        "confirm_identity": ("any", "confirm_identity"),
        "ask_caller": ("any", "ask_caller"),
        "hardship": ("affirmed", "hardship_cause"),
        "fee": ("any", "fee"),
        "third_party": ("any", "third_party"),
        "legal_basis": ("any", "legal_basis"),
        "written": ("any", "written"),
        "recorded": ("affirmed", "recorded"),
        "official_channel": ("any", "official_channel"),
        "refuse_personal": ("any", "refuse_personal"),
        "agree": ("any", "agree"),
        "decline": ("any", "decline"),
        "capacity": ("any", "capacity"),
        "promise_full": ("affirmed", "promise_full"),
        "borrow_to_pay": ("affirmed", "borrow_to_pay"),
        "insult": ("any", "insult"),
        "defiance": ("any", "defiance"),
        "vague": ("any", "vague"),
    }
    for move, (how, key) in checks.items():
        hit = _any(pats[key], t) if how == "any" else _affirmed(pats[key], t)
        if hit:
            moves[move] = hit
    if intent == "want_reduce_fees" and "fee" not in moves:
        moves["fee"] = "intent"
    moves["numbers"] = numbers(t)
    nums = moves["numbers"]
    if nums["monthly"] or nums["periods"]:
        moves["proposal"] = True
    elif nums["lump"]:
        moves["lump"] = True
    # "还不上" is vague, but with a cause it is a hardship explanation, not a dodge.
    if "vague" in moves and ("hardship" in moves or "proposal" in moves):
        del moves["vague"]
    return moves


def _rude(moves: Dict[str, Any]) -> bool:
    return bool(moves.get("insult") or moves.get("defiance"))


# --------------------------------------------------------------------------------------------
# replies


@dataclass
class Criterion:
    id: str
    title: str
    points: int
    max: int
    met: bool
    quote: Optional[str] = None
    example: Optional[str] = None
    note: Optional[str] = None


@dataclass
class Scorecard:
    counterpart: str
    total: int
    items: List[Criterion]

    def get(self, criterion_id: str) -> Criterion:
        return next(c for c in self.items if c.id == criterion_id)

    @property
    def met(self) -> List[str]:
        return [c.id for c in self.items if c.met]


@dataclass
class Reply:
    state: Dict[str, Any]
    messages: List[str]
    buttons: List[Dict[str, str]] = field(default_factory=list)
    speak: str = ""                 # the counterpart's words alone (for speech synthesis)
    ended: bool = False             # the practice is over (scorecard shown, or the user left)
    exited: bool = False            # the user left with "退出" (no scorecard)
    scorecard: Optional[Scorecard] = None

    @property
    def text(self) -> str:
        return "\n".join(self.messages)


def _with_prefix(text: str) -> str:
    return text if text.startswith(prefix()) else prefix() + text


def counterpart_buttons() -> List[Dict[str, str]]:
    return [
        {"title": b["title"], "payload": '/practice_call{"counterpart":"%s"}' % b["counterpart"]}
        for b in _content()["buttons"]
    ]


def counterpart_from_text(text: Optional[str], strong: bool = False) -> Optional[str]:
    """Which counterpart the user picked in ``text``. With ``strong``, only unambiguous words count
    (used on the request that starts practice, where a plain "催收" means any caller)."""
    if not text or not isinstance(text, str):
        return None
    t = text.strip()[:100]
    if t in COUNTERPARTS:
        return t
    choose = _content()["choose"]
    table = choose["strong"] if strong else choose["words"]
    for cp in choose["order"]:
        if _any(_compile(table.get(cp)), t):
            return cp
    return None


def _clean_case(case: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    case = case or {}
    out: Dict[str, Any] = {}
    platform = case.get("platform")
    if isinstance(platform, str) and platform.strip() and platform.strip().lower() != "unknown":
        out["platform"] = platform.strip()[:20]
    for key in ("amount", "overdue_days", "monthly_payment"):
        value = _int(case.get(key))
        if value is not None:
            out[key] = value
    return out


def chooser(case: Optional[Dict[str, Any]] = None, seed: Optional[int] = None) -> Reply:
    """Ask which counterpart to practise with."""
    state = {"v": STATE_VERSION, "stage": CHOOSE, "seed": _seed(seed), "case": _clean_case(case)}
    return Reply(state=state, messages=[_with_prefix(_ui("chooser"))], buttons=counterpart_buttons())


def _seed(seed: Optional[int]) -> int:
    if seed is None:
        return random.SystemRandom().randrange(1, 2**31)
    try:
        return int(seed)
    except (TypeError, ValueError):
        return 1


def _rng(state: Dict[str, Any], purpose: str) -> random.Random:
    return random.Random(f"{state['seed']}|{state.get('n', 0)}|{purpose}")


def _money(value: Optional[int]) -> str:
    return f"{value}元" if value else ""


def _fields(state: Dict[str, Any]) -> Dict[str, Any]:
    """Template fields for the counterpart's lines."""
    cp = persona(state["cp"])
    case = state["case"]
    defaults = _content()["defaults"]
    platform = case.get("platform")
    if state["cp"] == "bank":
        # a named bank card ("招商银行信用卡") becomes "招商银行信用卡中心"; anything else the generic centre
        if platform and "银行" in platform:
            name = platform if platform.endswith("信用卡") else platform + "信用卡"
            org = cp["org"].format(platform=name)
        else:
            org = cp["org_default"]
    else:
        org = cp["org"].format(platform=platform) if platform else cp["org_default"]
    offer = state.get("offer") or {}
    demand = state.get("demand") or {}
    amount = case.get("amount") or defaults["amount"]
    return {
        "platform": platform or defaults["platform"],
        "org": org,
        "badge": state.get("badge", ""),
        "amount": _money(amount),
        "days": case.get("overdue_days") or defaults["overdue_days"],
        "monthly": _money(offer.get("monthly")) or "这点钱",
        "periods": offer.get("periods") or "",
        "lump": _money(offer.get("lump")) or "这点钱",
        "c_monthly": _money(demand.get("monthly")),
        "c_periods": demand.get("periods") or "",
        "down": _money(demand.get("down") or _default_down(state)),
    }


def _default_down(state: Dict[str, Any]) -> int:
    amount = state["case"].get("amount") or _content()["defaults"]["amount"]
    return _round_up(amount * 0.2)


def _round_up(value: float, step: int = 100) -> int:
    return int(math.ceil(max(value, 1) / step) * step)


def _line(state: Dict[str, Any], key: str) -> Tuple[str, Dict[str, Any]]:
    """Pick a line of the counterpart for ``key``, avoiding lines already said in this call."""
    options = persona(state["cp"])["lines"].get(key) or []
    if not options:
        return "", {}
    allowed = list(range(len(options)))
    if state.get("flags", {}).get("retreated"):
        # after retreating the counterpart no longer threatens to call the family
        allowed = [i for i in allowed if not (isinstance(options[i], dict) and options[i].get("family"))] or allowed
    used = set(state.setdefault("used", []))
    fresh = [i for i in allowed if f"{key}:{i}" not in used] or allowed
    index = _rng(state, key).choice(fresh)
    state["used"].append(f"{key}:{index}")
    entry = options[index]
    meta = entry if isinstance(entry, dict) else {"text": entry}
    return render_facts(meta["text"]).format(**_fields(state)), meta


def _say(state: Dict[str, Any], lines: Sequence[str], buttons: Optional[List[Dict[str, str]]] = None) -> Reply:
    spoken = "".join(line for line in lines if line)
    speaker = persona(state["cp"])["speaker"]
    message = _with_prefix(f"{speaker}{_ui('speaker_sep')}{spoken}")
    return Reply(state=state, messages=[message], buttons=buttons or [], speak=spoken)


# --------------------------------------------------------------------------------------------
# the call


def start(counterpart: str, case: Optional[Dict[str, Any]] = None, seed: Optional[int] = None) -> Reply:
    """Begin a practice call: the counterpart introduces itself and checks the user's identity."""
    if counterpart not in COUNTERPARTS:
        return chooser(case, seed)
    state: Dict[str, Any] = {
        "v": STATE_VERSION,
        "cp": counterpart,
        "seed": _seed(seed),
        "case": _clean_case(case),
        "stage": IDENTITY,
        "n": 0,            # user turns so far
        "tries": 0,        # user turns spent in the current stage
        "turns": [],       # [{"t": text, "m": [moves]}]
        "used": [],
        "flags": {},
    }
    state["badge"] = "%s%04d" % ("ABCDHKMT"[_rng(state, "badge").randrange(8)], _rng(state, "badge#").randrange(10000))
    line, _ = _line(state, "identity")
    p = persona(counterpart)
    intro = _ui("intro", label=p["label"], style=p["style"])
    reply = _say(state, [line])
    reply.messages = [_with_prefix(intro + "\n——\n" + reply.messages[0][len(prefix()):])]
    return reply


def _valid(state: Any) -> bool:
    return (
        isinstance(state, dict)
        and state.get("v") == STATE_VERSION
        and state.get("stage") in (CHOOSE, IDENTITY, PRESSURE, COUNTER, THREAT, CONCEDE, CLOSING, DONE)
        and (state.get("stage") == CHOOSE or state.get("cp") in COUNTERPARTS)
    )


def is_exit(text: Optional[str]) -> bool:
    return bool(text) and bool(_any(_compile(_content()["commands"]["exit"]), text.strip()[:50]))


def is_end(text: Optional[str]) -> bool:
    return bool(text) and bool(_any(_compile(_content()["commands"]["end"]), text.strip()[:50]))


def stopped_text() -> str:
    """Said when practice is interrupted (crisis words)."""
    return _with_prefix(_ui("stopped"))


def exit_reply(state: Optional[Dict[str, Any]] = None) -> Reply:
    state = copy.deepcopy(state) if isinstance(state, dict) else {"v": STATE_VERSION}
    state["stage"] = DONE
    return Reply(state=state, messages=[_with_prefix(_ui("exit"))], ended=True, exited=True)


def step(
    state: Optional[Dict[str, Any]],
    text: Optional[str],
    intent: Optional[str] = None,
    counterpart: Optional[str] = None,
) -> Reply:
    """One user turn. ``intent`` is the NLU's intent for the turn (a hint); ``counterpart`` is the
    counterpart picked with a button, if any. Never raises on odd input."""
    text = text if isinstance(text, str) else ""
    if is_exit(text):
        return exit_reply(state)
    if not _valid(state):
        state = chooser().state
    state = copy.deepcopy(state)
    if state["stage"] == CHOOSE:
        picked = counterpart if counterpart in COUNTERPARTS else counterpart_from_text(text)
        if not picked:
            return Reply(state=state, messages=[_with_prefix(_ui("chooser_again"))], buttons=counterpart_buttons())
        return start(picked, state.get("case"), state.get("seed"))
    if state["stage"] == DONE:
        return finish(state)
    if is_end(text):
        return finish(state)
    return _turn(state, text, intent)


def _record(state: Dict[str, Any], text: str, moves: Dict[str, Any]) -> Dict[str, Any]:
    from xieshang.privacy import mask

    nums = moves.get("numbers") or {}
    turn = {
        "t": mask(text.strip())[:MAX_KEPT],
        "m": sorted(k for k, v in moves.items() if v and k != "numbers"),
        "num": {k: v for k, v in nums.items() if v},
        # where each move was found, so that the scorecard quotes the right part of a long turn
        "h": {k: v[:20] for k, v in moves.items() if isinstance(v, str) and k != "numbers"},
    }
    state["turns"].append(turn)
    return turn


def _note(turn: Dict[str, Any], move: str) -> None:
    if move not in turn["m"]:
        turn["m"].append(move)


def _counter_offer(state: Dict[str, Any]) -> Dict[str, int]:
    """The counterpart's counter-offer to the user's proposal: always asks for more per month (fewer
    periods) than the user offered, and a first payment."""
    p = persona(state["cp"])
    amount = state["case"].get("amount") or _content()["defaults"]["amount"]
    offer = dict(state.get("offer") or {})
    monthly, periods = offer.get("monthly"), offer.get("periods")
    if monthly and not periods:
        periods = max(1, math.ceil(amount / monthly))
    elif periods and not monthly:
        monthly = _round_up(amount / periods)
    cap = _rng(state, "cap").choice(p["max_periods"])
    ratio = _rng(state, "ratio").choice(p["down_ratio"])
    if not periods:  # only a lump sum was offered
        periods, monthly = cap * 2, _round_up(amount / (cap * 2))
    if state["cp"] == "collector":
        c_periods = min(cap, max(3, periods // 2))
    elif periods > cap:
        c_periods = cap                                   # "the system allows at most N periods"
    else:
        c_periods = max(3, min(periods - 1, round(periods * 0.6)))   # "shorter is easier to approve"
    c_periods = max(1, c_periods)
    c_monthly = _round_up(amount / c_periods)
    if c_monthly <= monthly:
        c_monthly = _round_up(monthly * 1.3)
    down = _round_up(amount * ratio) if ratio else c_monthly
    offer["monthly"], offer["periods"] = monthly, periods
    state["offer"] = {k: v for k, v in offer.items() if v}
    return {"monthly": c_monthly, "periods": c_periods, "down": down, "capped": int(periods > cap)}


def _turn(state: Dict[str, Any], text: str, intent: Optional[str]) -> Reply:
    moves = analyse(text, intent)
    turn = _record(state, text, moves)
    state["n"] = state.get("n", 0) + 1
    flags = state["flags"]
    stage = state["stage"]
    nums = moves["numbers"]
    lines: List[str] = []
    prev_turn = state["turns"][-2] if len(state["turns"]) > 1 else {"m": []}

    # ---- promises beyond the user's means (noted for the scorecard)
    offer_before = dict(state.get("offer") or {})
    overpromise = None
    if moves.get("promise_full") or moves.get("borrow_to_pay"):
        overpromise = "promise"
    elif moves.get("agree") and not moves.get("decline") and not moves.get("proposal"):
        if stage == PRESSURE and flags.get("demand_full") and not flags.get("demand_answered"):
            overpromise = "agree_full"
        elif stage == COUNTER and state.get("demand") and (state["demand"]["monthly"] > (offer_before.get("monthly") or 0)):
            overpromise = "agree_counter"
    if moves.get("proposal") and nums["monthly"]:
        ceiling = [v for v in (state["case"].get("monthly_payment"), flags.get("said_max")) if v]
        if ceiling and nums["monthly"] > min(ceiling) * 1.05:
            overpromise = "above_max"
        if moves.get("capacity"):
            flags["said_max"] = nums["monthly"]
    if overpromise:
        _note(turn, "overpromise")
    if flags.get("trap_open"):
        if moves.get("refuse_personal") or moves.get("official_channel"):
            flags["trap_open"] = False
        elif moves.get("agree") and not moves.get("decline"):
            flags["trap_open"] = False
            _note(turn, "trap_accepted")

    # ---- reactions that do not depend on the stage
    if moves.get("insult"):
        lines.append(_line(state, "rude_reply")[0])
    elif moves.get("defiance"):
        lines.append(_line(state, "defiance_reply")[0])
    third_party_now = moves.get("third_party") or (moves.get("legal_basis") and "third_party" in prev_turn["m"])
    if third_party_now and not flags.get("retreated"):
        if moves.get("legal_basis"):
            lines.append(_line(state, "retreat")[0])
            flags["retreated"] = True
            _note(turn, "retreat")
        elif not flags.get("pushed_back"):
            lines.append(_line(state, "third_party_no_basis")[0])
            flags["pushed_back"] = True
    if moves.get("ask_caller") and not flags.get("caller_told"):
        lines.append(_line(state, "caller_info")[0])
        flags["caller_told"] = True
    if moves.get("written") and not flags.get("written_answered"):
        lines.append(_line(state, "written_reply")[0])
        flags["written_answered"] = True
    elif moves.get("recorded") and not flags.get("recorded_answered"):
        lines.append(_line(state, "recorded_reply")[0])
        flags["recorded_answered"] = True
    if moves.get("fee") and not flags.get("fee_answered"):
        lines.append(_line(state, "fee_reply")[0])
        flags["fee_answered"] = True
    if "trap_accepted" in turn["m"]:
        lines.append(_line(state, "trap_accepted")[0])
    elif (moves.get("refuse_personal") or moves.get("official_channel")) and not flags.get("channel_answered"):
        lines.append(_line(state, "channel_reply")[0])
        flags["channel_answered"] = True

    # ---- the user's proposal
    if moves.get("proposal") or moves.get("lump"):
        offer = dict(state.get("offer") or {})
        for key in ("monthly", "periods", "lump"):
            if nums.get(key):
                offer[key] = nums[key]
        if moves.get("proposal") and nums["monthly"] and not nums["periods"]:
            offer.pop("periods", None)
        if moves.get("proposal") and nums["periods"] and not nums["monthly"]:
            offer.pop("monthly", None)
        state["offer"] = offer

    # ---- the stage machine
    state["tries"] = state.get("tries", 0) + 1
    engaged = any(moves.get(k) for k in ("confirm_identity", "ask_caller", "hardship", "proposal", "lump", "fee", "third_party", "written"))

    def goto(new_stage: str, key: Optional[str] = None) -> None:
        state["stage"] = new_stage
        state["tries"] = 0
        if key:
            line, meta = _line(state, key)
            lines.append(line)
            if key == "pressure":
                flags["demand_full"] = meta.get("demand") == "full"
                flags["demand_answered"] = False

    def counter() -> None:
        state["demand"] = _counter_offer(state)
        flags["counters"] = flags.get("counters", 0) + 1
        lines_of = persona(state["cp"])["lines"]
        if not moves.get("proposal") and moves.get("lump"):
            key = "counter_lump"
        elif state["demand"].get("capped") and lines_of.get("counter_cap"):
            key = "counter_cap"
        else:
            key = "counter"
        goto(COUNTER, key)

    def concede() -> None:
        offer = state.get("offer") or {}
        if not (offer.get("monthly") or offer.get("periods")):
            goto(CONCEDE, "concede_noplan")
            return
        if not offer.get("periods") or not offer.get("monthly"):
            amount = state["case"].get("amount") or _content()["defaults"]["amount"]
            if offer.get("monthly"):
                offer["periods"] = max(1, math.ceil(amount / offer["monthly"]))
            else:
                offer["monthly"] = _round_up(amount / offer["periods"])
        trap = persona(state["cp"]).get("collector_trap") and not flags.get("trap_offered")
        if trap:
            flags["trap_offered"] = True
            flags["trap_open"] = True
            goto(CONCEDE, "concede_trap")
        else:
            goto(CONCEDE, "concede")

    if state["n"] >= _content()["defaults"]["max_turns"] and stage != CLOSING:
        goto(CLOSING, "closing")
    elif stage == IDENTITY:
        if moves.get("proposal") or moves.get("lump"):
            counter()
        elif engaged or state["tries"] >= 2 or _rude(moves):
            goto(PRESSURE, "pressure")
        else:
            lines.append(_line(state, "identity_again")[0])
    elif stage == PRESSURE:
        if overpromise == "agree_full" or (overpromise == "promise" and not moves.get("proposal")):
            lines.append(_line(state, "overpromise_ack")[0])
            goto(CLOSING, "closing")
        elif moves.get("proposal") or moves.get("lump"):
            counter()
        elif moves.get("hardship") and not flags.get("asked_plan"):
            flags["asked_plan"] = True
            lines.append(_line(state, "ask_plan")[0])
        elif state["tries"] >= 3:
            goto(THREAT, "threat")
        elif not lines or moves.get("silence") or moves.get("vague"):
            lines.append(_line(state, "pressure_more")[0])
        flags["demand_answered"] = True
    elif stage == COUNTER:
        demand = state.get("demand") or {}
        if (
            moves.get("proposal") and nums["monthly"] and demand.get("monthly")
            and nums["monthly"] >= demand["monthly"] * 0.95
            and nums["monthly"] > (offer_before.get("monthly") or 0) * 1.05
        ):
            overpromise = overpromise or "agree_counter"   # took the counterpart's number over their own
            _note(turn, "overpromise")
        if overpromise in ("agree_counter", "above_max"):
            lines.append(_line(state, "accept")[0])
            goto(CLOSING, "closing")
        elif moves.get("proposal") and flags.get("counters", 0) < 2 and (state["offer"].get("monthly") or 0) > (offer_before.get("monthly") or 0):
            counter()   # the user moved: the counterpart haggles once more
        elif (moves.get("silence") or moves.get("vague")) and state["tries"] < 2:
            lines.append(_line(state, "pressure_more")[0])
        elif flags.get("threatened"):
            concede()
        else:
            flags["threatened"] = True
            goto(THREAT, "threat")
    elif stage == THREAT:
        if (moves.get("silence") or moves.get("vague") or _rude(moves)) and state["tries"] < 2 and not (state.get("offer") or {}).get("monthly"):
            lines.append(_line(state, "pressure_more")[0])
        elif (moves.get("proposal") or moves.get("lump")) and not state.get("demand"):
            counter()
        else:
            flags["threatened"] = True
            concede()
    elif stage == CONCEDE:
        goto(CLOSING, "closing")
    elif stage == CLOSING:
        lines.append(_line(state, "bye")[0])
        state["stage"] = DONE
        call = _say(state, [x for x in lines if x])
        return finish(state, before=call.messages, speak=call.speak)

    return _say(state, [x for x in lines if x])


# --------------------------------------------------------------------------------------------
# the scorecard


_CJK_COMMA = re.compile(r"(?<=[\u4e00-\u9fff])[,?!;:]|[,?!;:](?=[\u4e00-\u9fff])")
_FULL = {",": "，", "?": "？", "!": "！", ";": "；", ":": "："}


def _quote(text: str, hit: Optional[str] = None) -> str:
    """A short quote of ``text``, around ``hit`` when the turn is long."""
    text = re.sub(r"\s+", " ", text or "").strip()
    # the NLU pipeline turns full-width punctuation half-width; quote it the Chinese way again
    text = _CJK_COMMA.sub(lambda m: _FULL[m.group(0)], text)
    if len(text) <= MAX_QUOTE:
        return text
    at = text.find(hit) if hit else -1
    if at <= 0:
        return text[: MAX_QUOTE - 1] + "…"
    # start at the clause that holds the hit
    clause = max(text.rfind(c, 0, at) for c in "，,。！!？?；; ") + 1
    begin = clause if at - clause <= MAX_QUOTE // 2 else at - 4
    piece = text[begin: begin + MAX_QUOTE - 2]
    return ("…" if begin > 0 else "") + piece + ("…" if begin + len(piece) < len(text) else "")


def _turn_quote(turn: Dict[str, Any], *moves: str) -> str:
    hits = turn.get("h") or {}
    hit = next((hits[m] for m in moves if isinstance(hits.get(m), str) and hits[m] != "intent"), None)
    return _quote(turn.get("t", ""), hit)


def score(state: Dict[str, Any]) -> Scorecard:
    """Score the user's turns of a practice session against the rubric."""
    turns: List[Dict[str, Any]] = [t for t in (state or {}).get("turns") or [] if isinstance(t, dict)]
    cp = (state or {}).get("cp") or "platform"

    def has(turn: Dict[str, Any], *moves: str) -> bool:
        return any(m in (turn.get("m") or []) for m in moves)

    def first(*moves: str) -> Optional[Dict[str, Any]]:
        return next((t for t in turns if has(t, *moves)), None)

    items: List[Criterion] = []
    for crit in rubric():
        cid, title, pts = crit["id"], crit["title"], int(crit["points"])
        example = render_facts(crit.get(f"example_{cp}") or crit["example"])
        hit: Optional[Dict[str, Any]] = None
        why: Tuple[str, ...] = ()
        note: Optional[str] = None
        if cid == "identity":
            why = ("confirm_identity", "ask_caller")
            hit = next((t for t in turns if has(t, *why) and not has(t, "insult", "defiance")), None)
        elif cid == "hardship":
            why = ("hardship",)
            hit = first(*why)
        elif cid == "numbers":
            why = ("proposal",)
            hit = first(*why)
            if not hit and first("lump"):
                note = crit.get("note_lump")
        elif cid == "fees":
            why = ("fee",)
            hit = first(*why)
        elif cid == "third_party":
            why = ("third_party",)
            for i, t in enumerate(turns):
                if has(t, "third_party"):
                    if any(has(x, "legal_basis") for x in turns[max(0, i - 1): i + 2]):
                        hit = t
                        break
                    note = crit.get("note_no_basis")
        elif cid == "written":
            why = ("written", "recorded")
            hit = first(*why)
        elif cid == "means":
            bad = first("overpromise")
            if bad:
                note = crit["note_overpromise"].format(quote=_turn_quote(bad, "promise_full", "borrow_to_pay", "agree"))
            else:
                why = ("capacity", "decline", "proposal")
                hit = first(*why)
                if not hit:
                    note = crit.get("note_silent")
        elif cid == "channel":
            bad = first("trap_accepted")
            if bad:
                note = crit["note_trap"].format(quote=_turn_quote(bad, "agree"))
            else:
                why = ("refuse_personal", "official_channel")
                hit = first(*why)
        elif cid == "respect":
            rude = first("insult", "defiance")
            if rude:
                note = crit["note_rude"].format(quote=_turn_quote(rude, "insult", "defiance"))
            elif len([t for t in turns if not has(t, "silence")]) >= 2:
                hit = next(t for t in turns if not has(t, "silence"))
        met = hit is not None
        items.append(Criterion(
            id=cid, title=title, points=pts if met else 0, max=pts, met=met,
            quote=_turn_quote(hit, *why) if hit else None,
            example=None if met else example,
            note=None if met else note,
        ))
    return Scorecard(counterpart=cp, total=sum(c.points for c in items), items=items)


def render_scorecard(card: Scorecard) -> str:
    lines = [_ui("score_title", total=card.total)]
    for c in card.items:
        if c.met:
            lines.append(_ui("met_line", title=c.title, points=c.points, max=c.max))
            if c.quote:
                lines.append(_ui("quote", quote=c.quote))
        else:
            lines.append(_ui("missed_line", title=c.title, max=c.max))
            if c.note:
                lines.append(_ui("note", note=c.note))
            lines.append(_ui("tip", example=c.example))
    summary = "summary_high" if card.total >= 80 else "summary_mid" if card.total >= 50 else "summary_low"
    lines.append(_ui(summary) + _ui("again"))
    return _with_prefix("\n".join(lines))


def again_buttons(counterpart: Optional[str]) -> List[Dict[str, str]]:
    buttons = []
    if counterpart in COUNTERPARTS:
        buttons.append({"title": _ui("again_button"), "payload": '/practice_call{"counterpart":"%s"}' % counterpart})
    buttons.append({"title": _ui("switch_button"), "payload": "/practice_call"})
    return buttons


def finish(state: Dict[str, Any], before: Sequence[str] = (), speak: str = "") -> Reply:
    """End the practice with the scorecard."""
    state = dict(state)
    state["stage"] = DONE
    card = score(state)
    messages = list(before) + [render_scorecard(card)]
    return Reply(
        state=state, messages=messages, buttons=again_buttons(state.get("cp")), speak=speak,
        ended=True, scorecard=card,
    )


# --------------------------------------------------------------------------------------------
# convenience for tests and the terminal


def play(
    counterpart: str,
    user_turns: Sequence[str],
    seed: int = 1,
    case: Optional[Dict[str, Any]] = None,
    end: bool = True,
) -> Tuple[List[Reply], Scorecard]:
    """Play a whole transcript; returns every reply and the scorecard (ending with 打分 if needed)."""
    reply = start(counterpart, case, seed)
    replies = [reply]
    for text in user_turns:
        if reply.ended:
            break
        reply = step(reply.state, text)
        replies.append(reply)
    if not reply.ended and end:
        reply = step(reply.state, "打分")
        replies.append(reply)
    return replies, reply.scorecard or score(reply.state)

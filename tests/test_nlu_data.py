"""The training data meets the contract: every intent, enough varied examples, lenders, no leaks."""
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CORE_INTENTS = {
    "cant_repay", "fear_contacts_blast", "contacts_blasted", "want_extension", "want_installment",
    "want_reduce_fees", "collector_threat", "want_complain", "inform", "emotional_distress",
}
CONTRACT_INTENTS = CORE_INTENTS | {
    "greet", "goodbye", "affirm", "deny", "thank", "bot_challenge", "ask_legality", "ask_evidence",
    "ask_credit_report", "ask_interest_legal", "revoke_permission", "notify_contacts", "debt_agency",
    "ask_lawsuit", "practice_call", "delete_my_data", "restart", "out_of_scope",
}
CONTRACT_ENTITIES = {"platform", "amount", "monthly_income", "overdue_days", "monthly_payment", "installments"}


@pytest.fixture(scope="module")
def training():
    from rasa.shared.nlu.training_data.loading import load_data

    # data/rules holds rule-only files that the NLU loader does not read
    return load_data(str(ROOT / "data" / "nlu")).merge(load_data(str(ROOT / "data" / "lookup")))


def test_every_contract_intent_has_enough_examples(training):
    counts = training.number_of_examples_per_intent
    for intent in CONTRACT_INTENTS:
        need = 40 if intent in CORE_INTENTS else 20
        assert counts.get(intent, 0) >= need, (intent, counts.get(intent, 0))


def test_domain_lists_exactly_the_contract(training):
    core = yaml.safe_load((ROOT / "bot/domain/core.yml").read_text(encoding="utf-8"))
    assert CONTRACT_INTENTS <= set(core["intents"])
    assert CONTRACT_ENTITIES <= set(core["entities"])
    intents = set()
    for path in (ROOT / "bot/domain").glob("*.yml"):
        intents |= set(yaml.safe_load(path.read_text(encoding="utf-8")).get("intents") or [])
    assert set(training.intents) <= intents


def test_no_duplicate_examples(training):
    texts = Counter(m.get("text") for m in training.intent_examples)
    dups = [t for t, n in texts.items() if n > 1]
    assert not dups, dups[:20]


def test_heldout_never_trained_on(training):
    from rasa.shared.nlu.training_data.loading import load_data

    heldout = {m.get("text") for m in load_data(str(ROOT / "tests/nlu/heldout.yml")).intent_examples}
    leaked = heldout & {m.get("text") for m in training.intent_examples}
    assert not leaked, sorted(leaked)[:20]


def test_lender_lookup_table(training):
    lookups = {t["name"]: t["elements"] for t in training.lookup_tables}
    assert len(set(lookups.get("platform", []))) >= 40
    lenders = yaml.safe_load((ROOT / "xieshang/content/lenders.yml").read_text(encoding="utf-8"))["lenders"]
    assert len(lenders) >= 40
    assert sum(bool(l.get("synonyms")) for l in lenders) >= 0.75 * len(lenders)


def test_style_variety(training):
    """Real users write in traditional characters, pinyin shorthand and emoji too."""
    texts = [m.get("text") for m in training.intent_examples]
    assert sum(any(c in t for c in "還債貸這麼賬錄媽們會") for t in texts) >= 40
    assert sum(any(s in t.lower() for s in ("wd", "cs", "txl", "yq", "zx")) for t in texts) >= 20
    assert sum(any(ord(c) > 0x1F000 for c in t) for t in texts) >= 20

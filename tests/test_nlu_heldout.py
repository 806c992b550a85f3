"""Quality gate: the trained model on our own held-out set (tests/nlu/heldout.yml, never trained on)."""
import json
from pathlib import Path

import pytest

from bench.nlu_eval import evaluate, load_examples

pytestmark = pytest.mark.rasa
HELDOUT = Path(__file__).parent / "nlu" / "heldout.yml"


@pytest.fixture(scope="module")
def report(parse):
    result = evaluate(parse, load_examples(str(HELDOUT)))
    out = Path(__file__).resolve().parent.parent / "results"
    out.mkdir(exist_ok=True)
    (out / "heldout.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return result


def test_heldout_is_large_enough(report):
    assert report["examples"] >= 400


def test_intent_accuracy(report):
    assert report["intent_accuracy"] >= 0.90, report["errors"][:30]


def test_intent_macro_f1(report):
    assert report["intent_macro_f1"] >= 0.88


def test_entity_values(report):
    assert report["entity_gold"] >= 100
    assert report["entity_accuracy"] >= 0.85, report["per_entity"]
    assert report["entity_precision"] >= 0.85

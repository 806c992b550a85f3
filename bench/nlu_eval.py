"""Evaluate intent and normalised-entity accuracy on an annotated Rasa NLU file.

Used by tests/test_nlu_heldout.py (the quality gate) and by `make bench` (the report). Entities
are compared as (entity, normalised value) pairs: what the bot does with them, not token labels.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Callable, Dict, List, Tuple

Example = Tuple[str, str, List[Tuple[str, str]]]


def load_examples(path: str) -> List[Example]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(path)
    out: List[Example] = []
    for msg in data.intent_examples:
        ents = [(e["entity"], str(e.get("value", ""))) for e in msg.get("entities") or []]
        out.append((msg.get("text"), msg.get("intent"), ents))
    return out


def _norm_value(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def evaluate(parse: Callable[[str], Dict], examples: List[Example]) -> Dict:
    gold_intents, pred_intents, errors = [], [], []
    tp = fp = fn = 0
    per_entity = defaultdict(Counter)
    fallback = 0
    fallback_right = 0  # fallbacks whose top real intent was right
    for text, intent, ents in examples:
        result = parse(text)
        predicted = (result.get("intent") or {}).get("name")
        if predicted == "nlu_fallback":
            # Strict: a fallback is what the user gets ("please rephrase"), so it counts as wrong.
            fallback += 1
            ranking = result.get("intent_ranking") or []
            under = next((r["name"] for r in ranking if r["name"] != "nlu_fallback"), None)
            if under == intent:
                fallback_right += 1
        gold_intents.append(intent)
        pred_intents.append(predicted)
        if predicted != intent:
            errors.append({"text": text, "expected": intent, "predicted": predicted})
        gold = Counter((e, v) for e, v in ents)
        got = Counter((e["entity"], _norm_value(e.get("value"))) for e in result.get("entities") or [])
        hit = gold & got
        tp += sum(hit.values())
        fp += sum((got - gold).values())
        fn += sum((gold - got).values())
        for (name, _), n in gold.items():
            per_entity[name]["gold"] += n
        for (name, _), n in hit.items():
            per_entity[name]["hit"] += n
    labels = sorted(set(gold_intents))
    f1s = []
    for label in labels:
        t = sum(1 for g, p in zip(gold_intents, pred_intents) if g == p == label)
        p_all = sum(1 for p in pred_intents if p == label)
        g_all = sum(1 for g in gold_intents if g == label)
        prec = t / p_all if p_all else 0.0
        rec = t / g_all if g_all else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    n = len(examples)
    return {
        "examples": n,
        "intent_accuracy": round(sum(g == p for g, p in zip(gold_intents, pred_intents)) / n, 4) if n else 0.0,
        "intent_macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else 0.0,
        "fallback_rate": round(fallback / n, 4) if n else 0.0,
        "fallback_but_right": fallback_right,
        "entity_gold": tp + fn,
        # share of annotated (entity, value) pairs found with the right normalised value
        "entity_accuracy": round(tp / (tp + fn), 4) if tp + fn else 1.0,
        "entity_precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
        "per_entity": {k: round(v["hit"] / v["gold"], 3) for k, v in sorted(per_entity.items()) if v["gold"]},
        "errors": errors,
    }

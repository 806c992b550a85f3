"""Stratified k-fold cross-validation of an NLU pipeline on the TRAINING data only (data/nlu).

Use this, not tests/nlu/heldout.yml, to choose training examples and pipeline settings: the held-out
set stays blind. Each fold trains an NLU-only model in-process (the lender lookup table from
data/lookup is added to every fold's training data, as `rasa train` does) and parses the fold's
held-back examples; nlu_fallback counts as a miss, as in bench/nlu_eval.py.

    PYTHONPATH=. .venv/bin/python bench/nlu_cv.py                      # bot/config.yml, 5 folds, seed 42
    PYTHONPATH=. .venv/bin/python bench/nlu_cv.py --config X.yml --folds 5 --seed 42 --errors --json out.json

Prints per-fold and pooled intent accuracy / macro-F1 / entity accuracy / fallback rate, the
per-intent F1 and the most frequent confusion pairs. Trains one fold at a time (no parallelism).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # Rasa logs every parse at DEBUG otherwise
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _macro_f1(gold, pred):
    f1s = {}
    for label in sorted(set(gold)):
        t = sum(1 for g, p in zip(gold, pred) if g == p == label)
        p_all = sum(1 for p in pred if p == label)
        g_all = sum(1 for g in gold if g == label)
        prec = t / p_all if p_all else 0.0
        rec = t / g_all if g_all else 0.0
        f1s[label] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return (sum(f1s.values()) / len(f1s) if f1s else 0.0), f1s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="bot/config.yml")
    ap.add_argument("--data", default="data/nlu")
    ap.add_argument("--lookup", default="data/lookup")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--errors", action="store_true", help="print every misclassified example")
    ap.add_argument("--json", help="write the pooled report (with errors) to this file")
    ap.add_argument("--top", type=int, default=25, help="confusion pairs to print")
    args = ap.parse_args()

    os.chdir(ROOT)  # the pipeline's relative paths (bot/dict) are relative to the project
    logging.disable(logging.WARNING)
    tmp_root = Path(tempfile.mkdtemp(prefix="nlu_cv_"))
    # keep Rasa's training cache out of the project
    os.environ.setdefault("RASA_CACHE_DIRECTORY", str(tmp_root / "cache"))

    from rasa.model_training import train_nlu
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from sklearn.model_selection import StratifiedKFold

    from bench.nlu_eval import evaluate
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)

    data = load_data(args.data)
    lookup = load_data(args.lookup) if args.lookup and Path(args.lookup).exists() else TrainingData()
    examples = list(data.intent_examples)
    labels = [m.get("intent") for m in examples]
    skf = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)

    loop = asyncio.new_event_loop()
    gold_all, pred_all, errors = [], [], []
    ent_tp = ent_gold = fallback = 0
    fold_rows = []
    t_start = time.perf_counter()
    for k, (train_idx, test_idx) in enumerate(skf.split(examples, labels)):
        fold_dir = tmp_root / f"fold{k}"
        fold_dir.mkdir()
        train_td = TrainingData(
            training_examples=[examples[i] for i in train_idx],
            entity_synonyms=data.entity_synonyms,
            regex_features=data.regex_features,
            lookup_tables=lookup.lookup_tables + data.lookup_tables,
        )
        RasaYAMLWriter().dump(str(fold_dir / "train.yml"), train_td)
        t0 = time.perf_counter()
        model = train_nlu(args.config, str(fold_dir / "train.yml"), str(fold_dir), fixed_model_name="cv")
        train_s = time.perf_counter() - t0
        if not model:
            print(f"fold {k}: training failed", file=sys.stderr)
            return 1
        agent = Agent.load(model)

        def parse(text):
            return loop.run_until_complete(agent.parse_message(text))

        test = []
        for i in test_idx:
            m = examples[i]
            ents = [(e["entity"], str(e.get("value", ""))) for e in m.get("entities") or []]
            test.append((m.get("text"), m.get("intent"), ents))
        rep = evaluate(parse, test)
        fold_rows.append({"fold": k, "n": rep["examples"], "acc": rep["intent_accuracy"],
                          "macro_f1": rep["intent_macro_f1"], "fallback": rep["fallback_rate"],
                          "train_s": round(train_s, 1)})
        print(json.dumps(fold_rows[-1]), flush=True)
        err_by_text = {e["text"]: e["predicted"] for e in rep["errors"]}
        for text, intent, _ in test:
            gold_all.append(intent)
            pred_all.append(err_by_text.get(text, intent))
        errors.extend(rep["errors"])
        fallback += round(rep["fallback_rate"] * rep["examples"])
        ent_gold += rep["entity_gold"]
        ent_tp += round(rep["entity_accuracy"] * rep["entity_gold"])

    n = len(gold_all)
    acc = sum(g == p for g, p in zip(gold_all, pred_all)) / n
    macro, per_intent = _macro_f1(gold_all, pred_all)
    pairs = Counter((e["expected"], e["predicted"]) for e in errors)
    report = {
        "config": args.config, "folds": args.folds, "seed": args.seed, "examples": n,
        "intent_accuracy": round(acc, 4), "intent_macro_f1": round(macro, 4),
        "entity_accuracy": round(ent_tp / ent_gold, 4) if ent_gold else 1.0,
        "fallback_rate": round(fallback / n, 4),
        "seconds": round(time.perf_counter() - t_start, 1),
        "per_intent_f1": {k: round(v, 3) for k, v in sorted(per_intent.items(), key=lambda kv: kv[1])},
        "confusions": [{"expected": a, "predicted": b, "n": c} for (a, b), c in pairs.most_common()],
        "folds_detail": fold_rows,
        "errors": errors,
    }
    print(json.dumps({k: report[k] for k in ("config", "folds", "seed", "examples", "intent_accuracy",
                                             "intent_macro_f1", "entity_accuracy", "fallback_rate",
                                             "seconds")}, ensure_ascii=False))
    print("lowest per-intent F1:", json.dumps(dict(list(report["per_intent_f1"].items())[:10]), ensure_ascii=False))
    print("confusions (expected -> predicted):")
    for c in report["confusions"][: args.top]:
        print(f"  {c['n']:3d}  {c['expected']} -> {c['predicted']}")
    if args.errors:
        for e in errors:
            print(f"  [{e['expected']} -> {e['predicted']}] {e['text']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

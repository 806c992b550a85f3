"""Load one model in a fresh process and measure it: load time, memory, parse latency and quality on
an annotated held-out file. Prints one JSON line. Used by bench/run.py for every pipeline.

    python bench/nlu_probe.py models/x.tar.gz tests/nlu/heldout.yml
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # Rasa logs every parse at debug level: keep held-out texts out of logs
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main(model: str, heldout: str) -> None:
    import logging

    logging.disable(logging.WARNING)
    t0 = time.perf_counter()
    from bot import lean

    lean.install(model)  # as bot/serve.py serves it: TensorFlow only for a model that needs it
    from rasa.core.agent import Agent

    t1 = time.perf_counter()
    agent = Agent.load(model)
    t2 = time.perf_counter()
    loop = asyncio.new_event_loop()

    def parse(text: str):
        return loop.run_until_complete(agent.parse_message(text))

    from bench.nlu_eval import evaluate, load_examples

    examples = load_examples(heldout)
    parse("你好")
    latencies = []
    for text, _, _ in examples[:200]:
        t = time.perf_counter()
        parse(text)
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    report = evaluate(parse, examples)
    print(json.dumps({
        "import_s": round(t1 - t0, 2),
        "load_s": round(t2 - t1, 2),
        "rss_mb": rss_mb(),
        "tensorflow_loaded": "tensorflow" in sys.modules,
        "parse_p50_ms": round(latencies[len(latencies) // 2], 2),
        "parse_p95_ms": round(latencies[int(len(latencies) * 0.95)], 2),
        "examples": report["examples"],
        "intent_accuracy": report["intent_accuracy"],
        "intent_macro_f1": report["intent_macro_f1"],
        "entity_accuracy": report["entity_accuracy"],
        "entity_precision": report["entity_precision"],
        "fallback_rate": report.get("fallback_rate"),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""`make bench`: NLU quality and pipeline ablation, end-to-end latency and throughput over REST with
the action server in the loop, cold start, memory, training time, WeChat callback latency, and Rasa's
own `rasa init` bot measured in the same run as the engine's floor.

Writes bench/results.json, bench/latency.png and prints a table. Options:
  --quick        skip the ablation and the rasa-init floor (a few minutes instead of ~15)
  --only NAME    run one part: nlu, ablation, e2e, e2e_2workers, train, floor, wechat
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from conftest import BotServers, free_port, say  # noqa: E402
from bench.loadgen import pct, run_users  # noqa: E402

VENV_BIN = Path(sys.executable).parent
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
TMP = ROOT / "bench" / "tmp"
RESULTS = ROOT / "bench" / "results.json"

# Real-looking user turns across the flows (each simulated user walks through them in order).
CONVERSATION = [
    "你好",
    "借呗逾期了还不上",
    "欠了12000",
    "每个月能还2000",
    "失业了",
    "下个月应该能找到工作",
    "催收打给我妈了怎么办",
    "他们说要上门",
    "我要投诉",
    "跳过",
    "昨天晚上打了十几个电话给我同事",
    "有录音",
    "会不会上征信",
    "这样催收合法吗",
    "压力好大",
    "谢谢",
]


def memory_mb(pid: int, proc_file: str = "status", field: str = "VmRSS:") -> Optional[float]:
    """Memory of a process and its children, in MB: resident (``status``/``VmRSS``) by default, or
    proportional (``smaps_rollup``/``Pss``: pages shared between Sanic workers counted once)."""
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
        pids += [int(p) for p in out.split()]
    except Exception:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/{proc_file}").read_text().splitlines():
                if line.startswith(field):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1) if total else None


def rss_mb(pid: int) -> Optional[float]:
    return memory_mb(pid)


def pss_mb(pid: int) -> Optional[float]:
    return memory_mb(pid, "smaps_rollup", "Pss:")


# ------------------------------------------------------------------------------------------ load


def one_user(url: str, n: int = 160) -> Dict:
    return run_users(url, CONVERSATION, 1, 3600, label="one", max_messages=n)


def many_users(url: str, users: int, seconds: float, think: float = 0.0, lockstep: bool = False) -> Dict:
    out = run_users(url, CONVERSATION, users, seconds, think, lockstep=lockstep)
    out.pop("samples")
    return out


def measure_server(start: Callable[[], object], url_of: Callable[[object], str], pid_of: Callable[[object], Dict[str, int]],
                   stop: Callable[[object], None], label: str) -> Dict:
    t0 = time.time()
    handle = start()
    url = url_of(handle)
    first = None
    while first is None and time.time() - t0 < 300:
        try:
            say(url, f"{label}-cold", "你好", timeout=60)
            first = time.time() - t0
        except Exception:
            time.sleep(0.2)
    try:
        out: Dict = {"cold_start_s": round(first, 2) if first else None}
        for _ in range(10):  # warm up
            say(url, f"{label}-warm", "你好")
        one = one_user(url)
        out["one_user"] = {k: v for k, v in one.items() if k != "samples"}
        out["_samples"] = one["samples"]
        out["saturated_20"] = many_users(url, 20, 20)
        out["saturated_50"] = many_users(url, 50, 20)
        out["think_20"] = many_users(url, 20, 30, think=0.5)  # independent users (bench/loadgen.py)
        out["think_20_lockstep"] = many_users(url, 20, 30, think=0.5, lockstep=True)  # all in phase: bursts of 20
        out["rss_mb"] = {name: rss_mb(pid) for name, pid in pid_of(handle).items()}
        out["pss_mb"] = {name: pss_mb(pid) for name, pid in pid_of(handle).items()}
        return out
    finally:
        stop(handle)


def bench_e2e(model: Path, workers: int = 1) -> Dict:
    work = Path(tempfile.mkdtemp(prefix="xieshang-bench-"))

    def start():
        servers = BotServers(model, work)  # as `make run` starts them
        servers.env["SANIC_WORKERS"] = str(workers)  # what XIESHANG_WORKERS sets in scripts/run.sh
        return servers.start()

    try:
        return measure_server(start, lambda b: b.url,
                              lambda b: {"rasa": b.procs["rasa"].pid, "actions": b.procs["actions"].pid},
                              lambda b: b.stop(), "xieshang")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------------------------------ NLU


def bench_nlu(model: Path) -> Dict:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "nlu_probe.py"), str(model), str(HELDOUT)],
                         capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def train(config: Path, out_dir: Path, name: str, nlu_only: bool) -> float:
    cmd = [str(VENV_BIN / "rasa"), "train"] + (["nlu", "--nlu", "data"] if nlu_only else ["--data", "data", "--domain", "bot/domain"])
    cmd += ["--config", str(config), "--out", str(out_dir), "--fixed-model-name", name, "--quiet"]
    if not nlu_only:
        cmd += ["--force"]
    t = time.time()
    subprocess.run(cmd, cwd=ROOT, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return round(time.time() - t, 1)


def bench_ablation() -> Dict:
    results = {}
    for config in sorted((ROOT / "bench" / "pipelines").glob("*.yml")):
        name = config.stem
        out_dir = TMP / "ablation"
        out_dir.mkdir(parents=True, exist_ok=True)
        seconds = train(config, out_dir, name, nlu_only=True)
        probe = bench_nlu(out_dir / f"{name}.tar.gz")
        probe["train_s"] = seconds
        results[name] = probe
        print(f"  ablation {name}: {probe}", flush=True)
    return results


def bench_train() -> Dict:
    out_dir = TMP / "train"
    out_dir.mkdir(parents=True, exist_ok=True)
    return {"full_training_s": train(ROOT / "bot" / "config.yml", out_dir, "full", nlu_only=False)}


# ------------------------------------------------------------------------------------------ floor


def bench_floor() -> Dict:
    """Rasa's own `rasa init` bot, trained and served here, measured the same way."""
    floor = TMP / "rasa-init"
    model = floor / "models"
    if not list(model.glob("*.tar.gz")):
        shutil.rmtree(floor, ignore_errors=True)
        floor.mkdir(parents=True)
        subprocess.run([str(VENV_BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(floor)],
                       cwd=floor, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    model_file = sorted(model.glob("*.tar.gz"))[-1]

    class Floor:
        def __init__(self) -> None:
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.proc = subprocess.Popen(
                [str(VENV_BIN / "rasa"), "run", "--model", str(model_file), "-i", "127.0.0.1", "--port", str(self.port)],
                cwd=floor, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=dict(os.environ, RASA_TELEMETRY_ENABLED="false"))

    def stop(f: "Floor") -> None:
        f.proc.terminate()
        f.proc.wait(30)

    return measure_server(Floor, lambda f: f.url, lambda f: {"rasa": f.proc.pid}, stop, "floor")


# ------------------------------------------------------------------------------------------ wechat


def bench_wechat(model: Path) -> Dict:
    try:
        from bench.wechat_probe import measure  # written with the WeChat channel
    except ImportError:
        return {"skipped": "WeChat channel benchmark not available"}
    return measure(model)


# ------------------------------------------------------------------------------------------ report


def plot(results: Dict) -> None:
    """bench/latency.png: p50/p95/p99 per setup and load, from the figures in results.json (so a
    partial run such as ``--only floor`` still draws every setup measured so far)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        return
    setups = [(k, label) for k, label in (("e2e", "xieshang, 1 worker"), ("e2e_2workers", "xieshang, 2 workers"),
                                          ("floor", "rasa init")) if isinstance((results.get(k) or {}).get("one_user"), dict)]
    if not setups:
        return
    loads = (("one_user", "one user"), ("think_20", "20 users, 0.5 s think"), ("saturated_20", "20 users, no pause"))
    fig, axes = plt.subplots(1, len(loads), figsize=(11, 3.8))
    width = 0.8 / len(setups)
    for ax, (load, title) in zip(axes, loads):
        for i, (key, label) in enumerate(setups):
            figures = (results[key].get(load) or {})
            values = [figures.get(q) or 0 for q in ("p50_ms", "p95_ms", "p99_ms")]
            ax.bar([x + i * width for x in range(3)], values, width, label=label)
        ax.set_xticks([x + width * (len(setups) - 1) / 2 for x in range(3)], ["p50", "p95", "p99"])
        ax.set_yscale("log")
        ax.set_ylim(bottom=5)
        ax.set_title(title)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel("latency per message (ms, log)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(ROOT / "bench" / "latency.png", dpi=100)
    plt.close(fig)


def table(results: Dict) -> str:
    e2e, floor = results.get("e2e") or {}, results.get("floor") or {}
    two = results.get("e2e_2workers") or {}
    nlu = results.get("nlu") or {}

    def g(d: Dict, *path):
        for p in path:
            if not isinstance(d, dict):
                return None
            d = d.get(p)
        return d

    rows = [
        ("intent accuracy (own held-out)", g(nlu, "intent_accuracy"), None, "≥ 0.93"),
        ("intent macro-F1", g(nlu, "intent_macro_f1"), None, ""),
        ("entity accuracy", g(nlu, "entity_accuracy"), None, "≥ 0.85"),
        ("one user p50 (ms)", g(e2e, "one_user", "p50_ms"), g(floor, "one_user", "p50_ms"), "≤ 20"),
        ("20 users, 0.5 s think, p95 (ms)", g(e2e, "think_20", "p95_ms"), g(floor, "think_20", "p95_ms"), "≤ 60"),
        ("  same, all 20 in lock-step (ms)", g(e2e, "think_20_lockstep", "p95_ms"), g(floor, "think_20_lockstep", "p95_ms"), ""),
        ("saturated 20 users (msg/s)", g(e2e, "saturated_20", "throughput_msg_s"), g(floor, "saturated_20", "throughput_msg_s"), "≥ 150"),
        ("saturated 50 users (msg/s)", g(e2e, "saturated_50", "throughput_msg_s"), g(floor, "saturated_50", "throughput_msg_s"), ""),
        ("  same, 2 Sanic workers (ms)", g(two, "think_20", "p95_ms"), None, "≤ 60"),
        ("  same, 2 workers, lock-step (ms)", g(two, "think_20_lockstep", "p95_ms"), None, ""),
        ("saturated 20 users, 2 workers (msg/s)", g(two, "saturated_20", "throughput_msg_s"), None, "≥ 150"),
        ("saturated 50 users, 2 workers (msg/s)", g(two, "saturated_50", "throughput_msg_s"), None, ""),
        ("cold start to first reply (s)", g(e2e, "cold_start_s"), g(floor, "cold_start_s"), "≤ 10"),
        ("Rasa server RSS (MB)", g(e2e, "rss_mb", "rasa"), g(floor, "rss_mb", "rasa"), "≤ 600"),
        ("Rasa server PSS (MB)", g(e2e, "pss_mb", "rasa"), g(floor, "pss_mb", "rasa"), ""),
        ("Rasa server RSS, 2 workers (MB)", g(two, "rss_mb", "rasa"), None, "≤ 600"),
        ("Rasa server PSS, 2 workers (MB)", g(two, "pss_mb", "rasa"), None, ""),
        ("action server RSS (MB)", g(e2e, "rss_mb", "actions"), None, ""),
        ("full training (s)", g(results, "train", "full_training_s"), None, "≤ 120"),
        ("WeChat callback p50 (ms)", g(results, "wechat", "p50_ms"), None, ""),
        ("WeChat callback p99 (ms)", g(results, "wechat", "p99_ms"), None, "< 1000"),
    ]
    lines = [f"{'measure':38} {'xieshang':>10} {'rasa init':>10}  target", "-" * 72]
    for name, ours, theirs, target in rows:
        lines.append(f"{name:38} {str(ours if ours is not None else '-'):>10} {str(theirs if theirs is not None else '-'):>10}  {target}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only")
    args = parser.parse_args()
    model = Path(subprocess.check_output([sys.executable, str(ROOT / "scripts/train.py"), "--path"], text=True).strip())
    if not model.exists():
        print("没有模型，请先运行 make train。", file=sys.stderr)
        return 1
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results: Dict = dict(old)
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    results["model"] = model.name
    parts = {
        "nlu": lambda: bench_nlu(model),
        "train": bench_train,
        "e2e": lambda: bench_e2e(model),
        "e2e_2workers": lambda: bench_e2e(model, workers=2),
        "wechat": lambda: bench_wechat(model),
        "ablation": bench_ablation,
        "floor": bench_floor,
    }
    wanted = [args.only] if args.only else [p for p in parts if not (args.quick and p in ("ablation", "floor"))]
    for name in wanted:
        print(f"==> bench {name}", flush=True)
        try:
            results[name] = parts[name]()
        except Exception as exc:  # a broken part is reported, the others still run
            results[name] = {"error": repr(exc)[:500]}
    e2e, floor = results.get("e2e") or {}, results.get("floor") or {}
    def ratio(ours, theirs, higher_is_better=False):
        try:
            value = ours / theirs if higher_is_better else theirs / ours
            return round(value, 1)
        except (TypeError, ZeroDivisionError):
            return None

    def fig(d, *path):
        for k in path:
            d = d.get(k) if isinstance(d, dict) else None
        return d

    results["vs_rasa_init"] = {
        "one_user_p50": ratio(fig(e2e, "one_user", "p50_ms"), fig(floor, "one_user", "p50_ms")),
        "think_20_p95": ratio(fig(e2e, "think_20", "p95_ms"), fig(floor, "think_20", "p95_ms")),
        "think_20_lockstep_p95": ratio(fig(e2e, "think_20_lockstep", "p95_ms"), fig(floor, "think_20_lockstep", "p95_ms")),
        "saturated_20": ratio(fig(e2e, "saturated_20", "throughput_msg_s"), fig(floor, "saturated_20", "throughput_msg_s"), True),
        "saturated_20_2workers": ratio(fig(results, "e2e_2workers", "saturated_20", "throughput_msg_s"),
                                       fig(floor, "saturated_20", "throughput_msg_s"), True),
        "cold_start": ratio(fig(e2e, "cold_start_s"), fig(floor, "cold_start_s")),
        "rss": ratio(fig(e2e, "rss_mb", "rasa"), fig(floor, "rss_mb", "rasa")),
        "note": "each figure is how many times better xieshang is than rasa init's bot (null: not measured)",
    }
    plot(results)
    for key in ("e2e", "e2e_2workers", "floor"):
        (results.get(key) or {}).pop("_samples", None)
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n")
    print(table(results))
    print(f"\nwrote {RESULTS.relative_to(ROOT)} and bench/latency.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

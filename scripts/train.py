"""Train the model only when its inputs changed.

The model's inputs (config, domain, training data, custom NLU components, the extractor's lender
list) are hashed; the model is saved as models/xieshang-<hash>.tar.gz. If that file exists, nothing
is trained: a second `make run` starts at once.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUTS = [
    "bot/config.yml",
    "bot/domain",
    "bot/dict",
    "bot/components",
    "data",
]


def fingerprint() -> str:
    digest = hashlib.sha256()
    for entry in INPUTS:
        path = ROOT / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if "__pycache__" in f.parts or f.suffix == ".pyc":
                continue
            digest.update(str(f.relative_to(ROOT)).encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


def model_path() -> Path:
    return ROOT / "models" / f"xieshang-{fingerprint()}.tar.gz"


def main() -> int:
    target = model_path()
    if target.exists():
        print(f"==> model is up to date: {target.relative_to(ROOT)}")
        return 0
    print(f"==> training {target.relative_to(ROOT)} (data or config changed)")
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [
        str(Path(sys.executable).parent / "rasa"), "train",
        "--config", "bot/config.yml",
        "--domain", "bot/domain",
        "--data", "data",
        "--out", "models",
        "--fixed-model-name", target.name[: -len(".tar.gz")],
        "--quiet",
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=env)
    if result.returncode != 0 or not target.exists():
        print("训练失败，请查看上面的错误信息。", file=sys.stderr)
        return 1
    # keep only the newest few models
    models = sorted((ROOT / "models").glob("xieshang-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    for old in models[:-3]:
        old.unlink()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--path":
        print(model_path())
        sys.exit(0)
    sys.exit(main())

"""`rasa test core` on tests/stories: the dialogue policy predicts every step of each flow, with
interruptions (crisis mid-form, switching to a complaint, 不知道 answers, changing the amount)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.rasa
ROOT = Path(__file__).resolve().parent.parent


def test_stories_predicted_exactly(model_path, tmp_path):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "test", "core", "--model", str(model_path),
         "--stories", str(ROOT / "tests" / "stories"), "--endpoints", str(ROOT / "bot" / "endpoints.yml"),
         "--out", str(tmp_path), "--fail-on-prediction-errors", "--no-plot"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    failed = tmp_path / "failed_test_stories.yml"
    detail = failed.read_text(encoding="utf-8") if failed.exists() else result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, detail
    report = json.loads((tmp_path / "story_report.json").read_text(encoding="utf-8"))
    assert report["conversation_accuracy"]["accuracy"] == 1.0, detail
    assert report["conversation_accuracy"]["total"] >= 10

"""Serving code paths never import TensorFlow (web processes must stay light)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_serving_modules_do_not_import_tensorflow():
    code = (
        "import sys\n"
        "import recommender.ml.scoring, recommender.ml.data, recommender.ml.content\n"
        "import recommender.ml.artifacts, recommender.ml.baselines, recommender.ml.evaluation\n"
        "import recommender.ml.topk, recommender.ml.movielens, recommender.ml.autoencoder\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'django')]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

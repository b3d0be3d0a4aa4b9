"""Hashed content features: deterministic, normalised, similar texts are close."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from recommender.ml.content import featurize

ROOT = Path(__file__).resolve().parents[2]


def test_rows_are_normalised_and_similar_texts_close():
    x = featurize(
        ["Rocket to orbit", "rocket ORBIT alien", "Bake a cake", ""],
        [["space"], ["space"], ["cooking"], []],
    )
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    assert np.allclose(norms[:3], 1.0) and norms[3] == 0.0
    sims = (x @ x.T).toarray()
    assert sims[0, 1] > 0.5 > abs(sims[0, 2])


def test_deterministic_across_processes():
    code = (
        "from recommender.ml.content import featurize;"
        "x = featurize(['hello world'], [['news']]);"
        "print(x.indices.tolist(), x.data.round(6).tolist())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout
        for _ in range(2)
    }
    assert len(runs) == 1

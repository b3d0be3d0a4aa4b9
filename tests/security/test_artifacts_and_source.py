"""Nothing in the app unpickles, and serving refuses an artifact whose SHA-256 is not the
one recorded when it was trained (a swapped file is as bad as a corrupted one)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import numpy as np
import pytest

from recommender import services, serving
from recommender.ml.artifacts import ArtifactIntegrityError, save_arrays

from .conftest import client_for

PACKAGE = Path(__file__).resolve().parents[2] / "recommender"
UNSAFE_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "cloudpickle",
    "dill",
    "joblib",
    "shelve",
    "marshal",
    "torch",
}
UNSAFE_CALLS = {"loads", "load", "Unpickler", "read_pickle"}


def unsafe_uses(source: str, filename: str = "<source>") -> list[str]:
    """Every import of an unpickling library, ``allow_pickle=True``, Keras's
    ``safe_mode=False`` and ``*.read_pickle`` / ``torch.load`` call in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [
                f"{where} import {a.name}"
                for a in node.names
                if a.name.split(".")[0] in UNSAFE_MODULES
            ]
        elif (
            isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES
        ):
            found.append(f"{where} from {node.module} import ...")
        elif isinstance(node, ast.keyword) and node.arg in ("allow_pickle", "safe_mode"):
            safe = node.arg == "safe_mode"  # allow_pickle must be False, safe_mode True
            if not (isinstance(node.value, ast.Constant) and node.value.value is safe):
                found.append(f"{where} {node.arg}={ast.unparse(node.value)}")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in UNSAFE_CALLS
            and isinstance(node.value, ast.Name)
            and node.value.id in UNSAFE_MODULES
        ):
            found.append(f"{where} {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Attribute) and node.attr == "read_pickle":
            found.append(f"{where} .read_pickle")
    return found


@pytest.mark.parametrize(
    "snippet",
    [
        "import pickle",
        "import joblib as jl",
        "from dill import loads",
        "import torch.nn",
        "np.load(f, allow_pickle=True)",
        "np.load(f, allow_pickle=flag)",
        "keras.saving.load_model(p, safe_mode=False)",
        "pickle.loads(b)",
        "torch.load(p)",
        "df = pd.read_pickle(p)",
    ],
)
def test_the_scanner_finds_what_it_looks_for(snippet):
    assert unsafe_uses(snippet), snippet


def test_the_scanner_lets_safe_code_through():
    assert (
        unsafe_uses(
            "np.load(f, allow_pickle=False)\nload_model(p, safe_mode=True)\n"
            "json.loads(s)\n'''never pickled'''"
        )
        == []
    )


def test_nothing_in_the_app_unpickles():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 30, "the scan must see the whole package"
    found = [
        hit
        for path in files
        for hit in unsafe_uses(path.read_text(), str(path.relative_to(PACKAGE.parent)))
    ]
    assert found == []


# -- artifacts checked by SHA-256 ------------------------------------------------------------


@pytest.fixture
def swapped_artifact(trained_version):
    """Replace the active version's arrays by a well-formed .npz of other arrays."""
    arrays = serving.load_scorer(trained_version)  # loads fine as trained
    assert arrays is not None
    path = Path(trained_version.artifact.path)
    with np.load(path, allow_pickle=False) as archive:
        tampered = {name: archive[name] for name in archive.files}
    if "item_item" in tampered:
        tampered["item_item"] = -tampered["item_item"]
    tampered["popularity"] = tampered["popularity"][::-1].copy()
    save_arrays(tampered, path)
    serving._SCORERS.clear()  # as a freshly started web process
    return trained_version


@pytest.mark.django_db
def test_load_scorer_refuses_a_swapped_artifact(swapped_artifact):
    with pytest.raises(ArtifactIntegrityError, match="SHA-256 mismatch"):
        serving.load_scorer(swapped_artifact)


@pytest.mark.django_db
def test_serving_falls_back_and_logs_when_the_hash_does_not_match(
    swapped_artifact, planted, caplog
):
    someone = planted["users"][0]
    with caplog.at_level(logging.ERROR, logger="recommender"):
        answer = services.recommend_for_user(someone, limit=5)
        api = client_for(someone).get("/api/recommendations/", {"limit": 5})
        similar = client_for(None).get("/api/items/books-0/similar/")
    assert answer.source == "popular" and len(answer) == 5
    assert api.status_code == 200 and api.json()["source"] == "popular"
    assert similar.status_code == 200 and similar.json()["source"] == "popular"
    assert "SHA-256 mismatch" in caplog.text
    assert str(swapped_artifact.pk) in caplog.text

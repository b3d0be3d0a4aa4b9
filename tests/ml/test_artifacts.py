"""Artifacts: npz round trip with SHA-256, corrupted files refused, no pickle."""

import io

import numpy as np
import pytest

from recommender.ml.artifacts import ArtifactIntegrityError, load_arrays, save_arrays, sha256_of


def test_round_trip_path_and_file(tmp_path):
    arrays = {
        "item_keys": np.array([3, 1], np.int64),
        "names": np.array(["a", "bé"]),
        "kind": np.array("autoencoder"),
    }
    path = tmp_path / "model.npz"
    digest = save_arrays(arrays, path)
    assert digest == sha256_of(path)
    loaded = load_arrays(path, expected_sha256=digest)
    assert loaded["names"].tolist() == ["a", "bé"] and str(loaded["kind"]) == "autoencoder"
    buffer = io.BytesIO()
    assert save_arrays(arrays, buffer) == digest
    assert load_arrays(buffer, digest)["item_keys"].tolist() == [3, 1]


def test_corrupted_artifact_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    digest = save_arrays({"x": np.arange(10)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match=digest):
        load_arrays(path, expected_sha256=digest)


def test_object_arrays_are_refused(tmp_path):
    with pytest.raises(TypeError, match="object"):
        save_arrays({"bad": np.array([{"a": 1}], dtype=object)}, tmp_path / "x.npz")

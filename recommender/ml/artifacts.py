"""Save and load exported model arrays as ``.npz`` (never pickled) with a SHA-256 check."""

from __future__ import annotations

import hashlib
import io
import os
from typing import BinaryIO

import numpy as np

__all__ = ["ArtifactIntegrityError", "save_arrays", "load_arrays", "sha256_of"]

PathOrFile = str | os.PathLike | BinaryIO


class ArtifactIntegrityError(ValueError):
    """The artifact's SHA-256 is not the one recorded when it was saved."""


def sha256_of(file: PathOrFile) -> str:
    """Hex SHA-256 of a file given by path or as a binary file object (read from the start)."""
    digest = hashlib.sha256()
    if isinstance(file, (str, os.PathLike)):
        with open(file, "rb") as handle:
            _feed(digest, handle)
    else:
        file.seek(0)
        _feed(digest, file)
        file.seek(0)
    return digest.hexdigest()


def _feed(digest: hashlib._Hash, handle: BinaryIO) -> None:
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)


def save_arrays(arrays: dict[str, np.ndarray], path_or_file: PathOrFile) -> str:
    """Write arrays to a compressed ``.npz`` and return its SHA-256.

    Object arrays are refused (they would need pickle); store strings as unicode arrays.

    Args:
        arrays: name -> array.
        path_or_file: destination path or writable binary file object.

    Returns:
        Hex SHA-256 of the written bytes.
    """
    for name, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(f"array {name!r} has dtype object; use a numeric or unicode dtype")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    data = buffer.getvalue()
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "wb") as handle:
            handle.write(data)
    else:
        path_or_file.write(data)
    return hashlib.sha256(data).hexdigest()


def load_arrays(
    path_or_file: PathOrFile, expected_sha256: str | None = None
) -> dict[str, np.ndarray]:
    """Read arrays written by :func:`save_arrays`, checking the SHA-256 first when given.

    Args:
        path_or_file: source path or readable binary file object.
        expected_sha256: hex digest recorded at save time; None skips the check.

    Returns:
        name -> array.

    Raises:
        ArtifactIntegrityError: the file's digest differs from ``expected_sha256``.
    """
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "rb") as handle:
            data = handle.read()
    else:
        path_or_file.seek(0)
        data = path_or_file.read()
    actual = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and actual != expected_sha256.lower():
        raise ArtifactIntegrityError(
            f"artifact SHA-256 mismatch: expected {expected_sha256}, got {actual}; "
            "the file was changed or corrupted after it was saved"
        )
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}

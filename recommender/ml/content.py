"""Hashed bag-of-words features of item texts and categories, for cold-start items."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

__all__ = ["featurize", "tokens"]

_WORD = re.compile(r"\w+", re.UNICODE)


def tokens(text: str, categories: Sequence[str] = ()) -> list[str]:
    """Lowercase word tokens of ``text`` plus one ``cat:`` token per category."""
    words = _WORD.findall((text or "").lower())
    return words + ["cat:" + c.strip().lower() for c in categories if c and c.strip()]


def featurize(
    texts: Sequence[str], categories: Sequence[Sequence[str]], n_features: int = 2**14
) -> sp.csr_matrix:
    """Hash item texts and categories into L2-normalised sparse rows.

    Each token is hashed with CRC-32 (stable across processes, unlike ``hash()``) into one
    of ``n_features`` columns with a sign taken from another bit of the hash, so collisions
    tend to cancel. Counts are damped with ``log1p``; rows with no tokens stay zero.

    Args:
        texts: one text per item (title, description...).
        categories: one list of category names per item (same length as ``texts``).
        n_features: number of hashed columns.

    Returns:
        float32 CSR, one row per item.
    """
    if len(texts) != len(categories):
        raise ValueError("texts and categories differ in length")
    rows, cols, vals = [], [], []
    for row, (text, cats) in enumerate(zip(texts, categories, strict=True)):
        for token, count in _counts(tokens(text, cats)).items():
            digest = zlib.crc32(token.encode("utf-8"))
            rows.append(row)
            cols.append(digest % n_features)
            vals.append(np.log1p(count) * (1.0 if digest & 0x80000000 else -1.0))
    matrix = sp.csr_matrix(
        (np.asarray(vals, np.float32), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
        shape=(len(texts), n_features),
    )
    matrix.sum_duplicates()
    return _l2_normalise(matrix)


def _counts(words: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return counts


def _l2_normalise(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ matrix)

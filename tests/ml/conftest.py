"""Synthetic interaction data with planted structure for the ml tests (no Django, no database)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

N_CLUSTERS = 4
ITEMS_PER_CLUSTER = 30
GENRES = ["space", "cooking", "horses", "jazz"]
WORDS = [
    ["rocket", "orbit", "alien"],
    ["recipe", "kitchen", "bake"],
    ["stable", "saddle", "gallop"],
    ["saxophone", "swing", "trumpet"],
]


@dataclass
class Planted:
    users: np.ndarray
    items: np.ndarray
    ts: np.ndarray
    user_cluster: dict
    item_cluster: dict
    titles: dict
    genres: dict


def make_planted(n_users: int = 240, per_user: int = 14, seed: int = 0) -> Planted:
    """Users each like one cluster of items; a few random items add noise; item ids
    1000 + n. Cluster 0 is the smallest by users, so popularity favours other clusters."""
    rng = np.random.default_rng(seed)
    n_items = N_CLUSTERS * ITEMS_PER_CLUSTER
    item_cluster = {1000 + i: i // ITEMS_PER_CLUSTER for i in range(n_items)}
    weights = np.array([0.1, 0.3, 0.3, 0.3])
    users, items, ts, user_cluster = [], [], [], {}
    within = 1.0 / np.arange(1, ITEMS_PER_CLUSTER + 1) ** 0.5
    for u in range(n_users):
        c = int(rng.choice(N_CLUSTERS, p=weights))
        user_cluster[u] = c
        picks = rng.choice(
            ITEMS_PER_CLUSTER, size=per_user - 2, replace=False, p=within / within.sum()
        )
        chosen = [1000 + c * ITEMS_PER_CLUSTER + int(p) for p in picks]
        chosen += [1000 + int(x) for x in rng.choice(n_items, size=2, replace=False)]
        users += [u] * len(chosen)
        items += chosen
        ts += list(np.sort(rng.integers(0, 10**6, size=len(chosen))))
    titles = {
        k: " ".join(rng.choice(WORDS[c], size=2)) + f" number {k}" for k, c in item_cluster.items()
    }
    genres = {k: [GENRES[c]] for k, c in item_cluster.items()}
    return Planted(
        np.array(users),
        np.array(items, np.int64),
        np.array(ts, np.float64),
        user_cluster,
        item_cluster,
        titles,
        genres,
    )


@pytest.fixture(scope="session")
def planted() -> Planted:
    return make_planted()

"""Django-free loader for MovieLens folders (100K ``u.data`` layout and ``ratings.csv`` layout)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["MovieLens", "load_movielens", "GENRES_100K"]

GENRES_100K = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)


@dataclass
class MovieLens:
    """Ratings as parallel arrays plus the movie catalogue.

    Attributes:
        users, items: int64 user and movie ids of each rating.
        ratings: float32 rating values.
        timestamps: int64 Unix times.
        item_ids: int64 ids of the catalogue's movies.
        titles: title of each catalogue movie (aligned with ``item_ids``).
        genres: list of genre names of each catalogue movie.
    """

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray
    item_ids: np.ndarray
    titles: list[str]
    genres: list[list[str]]


def load_movielens(path: str | Path) -> MovieLens:
    """Load a MovieLens folder in either common layout.

    Args:
        path: folder with ``u.data`` and ``u.item`` (MovieLens 100K) or with ``ratings.csv``
            and ``movies.csv`` (the "latest" and 1M-style CSV releases).

    Returns:
        The ratings and catalogue.

    Raises:
        FileNotFoundError: neither layout is present in ``path``.
    """
    folder = Path(path)
    if (folder / "u.data").is_file() and (folder / "u.item").is_file():
        return _load_100k(folder)
    if (folder / "ratings.csv").is_file() and (folder / "movies.csv").is_file():
        return _load_csv(folder)
    raise FileNotFoundError(
        f"no MovieLens data in {folder}: expected u.data and u.item (MovieLens 100K) "
        "or ratings.csv and movies.csv (MovieLens latest)"
    )


def _load_100k(folder: Path) -> MovieLens:
    raw = np.loadtxt(folder / "u.data", dtype=np.int64, delimiter="\t", ndmin=2)
    item_ids, titles, genres = [], [], []
    with open(folder / "u.item", encoding="latin-1") as lines:
        for line in lines:
            fields = line.rstrip("\n").split("|")
            if len(fields) < 5:
                continue
            flags = fields[-len(GENRES_100K) :]
            item_ids.append(int(fields[0]))
            titles.append(fields[1])
            genres.append([g for g, flag in zip(GENRES_100K, flags, strict=True) if flag == "1"])
    return MovieLens(
        users=raw[:, 0],
        items=raw[:, 1],
        ratings=raw[:, 2].astype(np.float32),
        timestamps=raw[:, 3],
        item_ids=np.asarray(item_ids, np.int64),
        titles=titles,
        genres=genres,
    )


def _load_csv(folder: Path) -> MovieLens:
    columns: dict[str, list] = {"userId": [], "movieId": [], "rating": [], "timestamp": []}
    with open(folder / "ratings.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for name, values in columns.items():
                values.append(row[name])
    item_ids, titles, genres = [], [], []
    with open(folder / "movies.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            item_ids.append(int(row["movieId"]))
            titles.append(row["title"])
            names = row["genres"].split("|")
            genres.append([g for g in names if g and g != "(no genres listed)"])
    return MovieLens(
        users=np.asarray(columns["userId"], np.int64),
        items=np.asarray(columns["movieId"], np.int64),
        ratings=np.asarray(columns["rating"], np.float32),
        timestamps=np.asarray(columns["timestamp"], np.int64),
        item_ids=np.asarray(item_ids, np.int64),
        titles=titles,
        genres=genres,
    )

"""The MovieLens loader on tiny generated files of both layouts."""

import numpy as np
import pytest

from recommender.ml.movielens import load_movielens


def test_100k_layout(tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t4\t100\n2\t11\t2\t200\n")
    flags = ["0"] * 19
    action = list(flags)
    action[1] = "1"
    lines = [
        "10|Heat (1995)|01-Jan-1995||http://x|" + "|".join(action),
        "11|Amélie (2001)|01-Jan-2001||http://y|" + "|".join(flags),
    ]
    (tmp_path / "u.item").write_bytes("\n".join(lines).encode("latin-1"))
    ml = load_movielens(tmp_path)
    assert ml.users.tolist() == [1, 2] and ml.items.tolist() == [10, 11]
    assert ml.ratings.tolist() == [4.0, 2.0] and ml.timestamps.tolist() == [100, 200]
    assert ml.titles == ["Heat (1995)", "Amélie (2001)"] and ml.genres == [["Action"], []]


def test_csv_layout(tmp_path):
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,5,3.5,1000\n")
    (tmp_path / "movies.csv").write_text(
        'movieId,title,genres\n5,"Father of the Bride, Part II (1995)",Comedy|Romance\n'
        "6,Nothing (2000),(no genres listed)\n"
    )
    ml = load_movielens(tmp_path)
    assert ml.ratings.dtype == np.float32 and ml.ratings.tolist() == [3.5]
    assert ml.item_ids.tolist() == [5, 6] and ml.titles[0].startswith("Father of the Bride, ")
    assert ml.genres == [["Comedy", "Romance"], []]


def test_missing_folder_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="u.data and u.item"):
        load_movielens(tmp_path)

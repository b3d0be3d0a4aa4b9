"""Chart.js configurations of the admin's charts, built from figures the database aggregated.

Each function returns a :class:`Chart`; the template writes its config with ``json_script``
and the vendored Chart.js draws it (see ``admin/recommender/includes/charts.html``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..dashboard import Coverage, Rates

__all__ = [
    "Chart",
    "interactions_chart",
    "active_users_chart",
    "coverage_chart",
    "rates_chart",
    "metrics_chart",
    "history_chart",
    "arms_chart",
]

PALETTE = ["#417690", "#e07a1f", "#5a9e4b", "#b5446e", "#8a6fbf", "#c9a227", "#4bb3c4", "#7f7f7f"]
PERCENT = {"beginAtZero": True, "ticks": {"format": {"style": "percent"}}}


@dataclass
class Chart:
    """One chart of a page: its DOM id, its title and its Chart.js config."""

    id: str
    title: str
    config: dict[str, Any]

    @property
    def data_id(self) -> str:
        return f"{self.id}-data"


def _colour(n: int) -> str:
    return PALETTE[n % len(PALETTE)]


def _options(**scales: Any) -> dict[str, Any]:
    return {
        "responsive": True,
        "maintainAspectRatio": False,
        "animation": False,
        "interaction": {"mode": "index", "intersect": False},
        "plugins": {"legend": {"position": "bottom"}},
        "scales": scales,
    }


def interactions_chart(per_day: dict[str, Any]) -> Chart:
    datasets = [
        {"label": kind, "data": counts, "backgroundColor": _colour(n), "stack": "events"}
        for n, (kind, counts) in enumerate(per_day["series"].items())
    ]
    return Chart(
        "chart-interactions",
        "Interactions per day, by type",
        {
            "type": "bar",
            "data": {"labels": per_day["days"], "datasets": datasets},
            "options": _options(x={"stacked": True}, y={"stacked": True, "beginAtZero": True}),
        },
    )


def active_users_chart(per_day: dict[str, Any]) -> Chart:
    return Chart(
        "chart-active-users",
        "Active users per day",
        {
            "type": "line",
            "data": {
                "labels": per_day["days"],
                "datasets": [
                    {
                        "label": "users with at least one event",
                        "data": per_day["users"],
                        "borderColor": _colour(0),
                        "backgroundColor": _colour(0),
                        "tension": 0.2,
                    }
                ],
            },
            "options": _options(y={"beginAtZero": True}),
        },
    )


def coverage_chart(coverage: Coverage) -> Chart:
    return Chart(
        "chart-coverage",
        "Catalogue coverage of the lists shown",
        {
            "type": "doughnut",
            "data": {
                "labels": ["shown at least once", "never shown"],
                "datasets": [
                    {
                        "data": [coverage.shown, max(coverage.catalogue - coverage.shown, 0)],
                        "backgroundColor": [_colour(0), "#dddddd"],
                    }
                ],
            },
            "options": {
                "responsive": True,
                "maintainAspectRatio": False,
                "animation": False,
                "plugins": {"legend": {"position": "bottom"}},
            },
        },
    )


def rates_chart(chart_id: str, title: str, rates: Sequence[Rates]) -> Chart:
    """Click-through and conversion rate per group, as grouped bars."""
    return Chart(
        chart_id,
        title,
        {
            "type": "bar",
            "data": {
                "labels": [r.label for r in rates],
                "datasets": [
                    {
                        "label": "click-through rate",
                        "data": [round(r.ctr, 6) for r in rates],
                        "backgroundColor": _colour(0),
                    },
                    {
                        "label": "conversion rate",
                        "data": [round(r.conversion, 6) for r in rates],
                        "backgroundColor": _colour(1),
                    },
                ],
            },
            "options": _options(y=PERCENT),
        },
    )


def metrics_chart(versions: Sequence[dict[str, Any]]) -> Chart:
    """Offline metrics of every evaluated version, oldest first, next to popularity's NDCG."""
    lines = [
        ("NDCG@10", "default", "ndcg@10", {}),
        ("Recall@10", "default", "recall@10", {}),
        ("Coverage@10", "default", "coverage@10", {}),
        ("popularity NDCG@10", "popularity", "ndcg@10", {"borderDash": [6, 4]}),
    ]
    datasets = [
        {
            "label": label,
            "data": [v[part][metric] for v in versions],
            "borderColor": _colour(n),
            "backgroundColor": _colour(n),
            "spanGaps": True,
            **extra,
        }
        for n, (label, part, metric, extra) in enumerate(lines)
    ]
    return Chart(
        "chart-version-metrics",
        "Offline metrics of the versions, oldest first",
        {
            "type": "line",
            "data": {"labels": [v["label"] for v in versions], "datasets": datasets},
            "options": _options(y={"beginAtZero": True}),
        },
    )


def history_chart(history: Sequence[dict[str, Any]]) -> Chart:
    """The training curve: losses on the left axis, validation metrics on the right."""
    keys = list(
        dict.fromkeys(
            k
            for entry in history
            for k, v in entry.items()
            if k != "epoch" and isinstance(v, int | float)
        )
    )
    datasets = [
        {
            "label": key,
            "data": [entry.get(key) for entry in history],
            "yAxisID": "loss" if "loss" in key else "metric",
            "borderColor": _colour(n),
            "backgroundColor": _colour(n),
            "spanGaps": True,
        }
        for n, key in enumerate(keys)
    ]
    scales = {
        "loss": {
            "position": "left",
            "title": {"display": True, "text": "loss"},
            "display": any(d["yAxisID"] == "loss" for d in datasets),
        },
        "metric": {
            "position": "right",
            "grid": {"drawOnChartArea": False},
            "display": any(d["yAxisID"] == "metric" for d in datasets),
        },
    }
    labels = [entry.get("epoch", n) for n, entry in enumerate(history)]
    return Chart(
        "chart-training-curve",
        "Training curve (per epoch)",
        {
            "type": "line",
            "data": {"labels": labels, "datasets": datasets},
            "options": _options(**scales),
        },
    )


def arms_chart(arms: dict[str, Rates]) -> Chart:
    return rates_chart("chart-arms", "Click-through and conversion per arm", [arms["a"], arms["b"]])

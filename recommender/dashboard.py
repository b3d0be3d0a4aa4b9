"""Figures for the admin's control room, aggregated in the database over bounded windows.

Every function here issues a fixed number of grouped queries, whatever the size of the
interaction log or of the impression table; none loads rows to count them in Python.

A tracked list is an :class:`~recommender.models.Impression`; it counts as *clicked* when an
interaction of one of ``CLICK_EVENTS`` carries its ``rec_id``, and as *converted* when one of
``CONVERSION_EVENTS`` does. Click-through rate and conversion rate are shares of lists shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import Case, Count, F, IntegerField, Max, QuerySet, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from .conf import app_settings
from .models import Experiment, Impression, Interaction, Item, ModelVersion

__all__ = [
    "ALPHA",
    "MIN_LISTS_PER_ARM",
    "Rates",
    "Comparison",
    "Coverage",
    "ExperimentResult",
    "window_start",
    "interactions_per_day",
    "active_users_per_day",
    "active_users",
    "catalogue_coverage",
    "rates_by_version",
    "rates_by_placement",
    "experiment_results",
    "version_metrics",
    "wilson_interval",
    "two_proportion_z_test",
]

# Significance level of the experiment verdicts (two-sided).
ALPHA = 0.05
# Below this many lists shown in an arm, no verdict is given: the normal approximation fails.
MIN_LISTS_PER_ARM = 30
Z_95 = 1.959963984540054
# Coverage on databases without JSON table functions reads at most this many recent lists.
COVERAGE_SAMPLE = 10_000


def window_start(days: int) -> datetime:
    return timezone.now() - timedelta(days=days)


def _days(days: int) -> list[date]:
    today = timezone.localdate()
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


# -- activity ---------------------------------------------------------------------------------


def interactions_per_day(days: int = 30) -> dict[str, Any]:
    """Events per day and type over the last ``days`` days (today included), zeros filled in.

    Returns:
        {"days": ["2026-01-01", ...], "series": {event_type: [count per day, ...]}}
    """
    axis = _days(days)
    rows = (
        Interaction.objects.since(_midnight(axis[0]))
        .order_by()
        .annotate(day=TruncDate("timestamp"))
        .values("day", "event_type")
        .annotate(n=Count("pk"))
        .values_list("day", "event_type", "n")
    )
    position = {d: n for n, d in enumerate(axis)}
    series: dict[str, list[int]] = {}
    for day, event_type, n in rows:
        column = position.get(_as_date(day))
        if column is not None:
            series.setdefault(event_type, [0] * len(axis))[column] += n
    return {"days": [d.isoformat() for d in axis], "series": dict(sorted(series.items()))}


def active_users_per_day(days: int = 30) -> dict[str, Any]:
    """Distinct users with at least one event, per day.

    Returns:
        {"days": ["2026-01-01", ...], "users": [count per day, ...]}
    """
    axis = _days(days)
    rows = (
        Interaction.objects.since(_midnight(axis[0]))
        .order_by()
        .annotate(day=TruncDate("timestamp"))
        .values("day")
        .annotate(n=Count("user_id", distinct=True))
        .values_list("day", "n")
    )
    counts = {_as_date(day): n for day, n in rows}
    return {"days": [d.isoformat() for d in axis], "users": [counts.get(d, 0) for d in axis]}


def active_users(days: int = 30) -> int:
    """Distinct users with at least one event in the last ``days`` days."""
    window = Interaction.objects.since(window_start(days)).order_by()
    return window.aggregate(n=Count("user_id", distinct=True))["n"]


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


# -- catalogue coverage -----------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """How much of the active catalogue the tracked lists of a window showed."""

    shown: int
    catalogue: int
    lists: int
    sampled: bool = False

    @property
    def ratio(self) -> float:
        return self.shown / self.catalogue if self.catalogue else 0.0


# The active items named in the item_ids of the selected lists. The database unnests the JSON
# arrays (jsonb on PostgreSQL, JSON1 on SQLite), so no list leaves it; {lists} is a query of
# the lists' item_ids, which PostgreSQL flattens into a (parallel) scan.
_COVERAGE_SQL = {
    "postgresql": (
        "SELECT COUNT(*) FROM {item} it WHERE it.is_active AND it.external_id IN ("
        "SELECT e.value FROM ({lists}) l CROSS JOIN LATERAL "
        "jsonb_array_elements_text(l.item_ids) AS e(value))"
    ),
    "sqlite": (
        "SELECT COUNT(*) FROM {item} it WHERE it.is_active AND it.external_id IN ("
        "SELECT e.value FROM ({lists}) l, json_each(l.item_ids) e)"
    ),
}


def catalogue_coverage(days: int = 30) -> Coverage:
    """Share of active items that appeared in at least one tracked list of the window."""
    lists = Impression.objects.since(window_start(days)).order_by()
    catalogue = Item.objects.active().count()
    n_lists = lists.count()
    connection = connections[lists.db]
    template = _COVERAGE_SQL.get(connection.vendor)
    if template is None:
        return _sampled_coverage(lists, catalogue, n_lists)
    lists_sql, params = lists.values("item_ids").query.sql_with_params()
    sql = template.format(item=Item._meta.db_table, lists=lists_sql)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        shown = cursor.fetchone()[0] or 0
    return Coverage(shown, catalogue, n_lists)


def _sampled_coverage(lists: QuerySet, catalogue: int, n_lists: int) -> Coverage:
    """Other databases: the newest COVERAGE_SAMPLE lists, unnested here (bounded)."""
    recent = lists.order_by("-created_at").values_list("item_ids", flat=True)[:COVERAGE_SAMPLE]
    external_ids = {str(x) for ids in recent for x in (ids or [])}
    shown = Item.objects.active().by_external_ids(external_ids).count() if external_ids else 0
    return Coverage(shown, catalogue, n_lists, sampled=n_lists > COVERAGE_SAMPLE)


# -- click-through and conversion -------------------------------------------------------------


@dataclass(frozen=True)
class Rates:
    """Lists shown in one group, and how many of them were clicked and converted."""

    key: Any
    label: str
    shown: int
    clicked: int
    converted: int

    @property
    def ctr(self) -> float:
        return self.clicked / self.shown if self.shown else 0.0

    @property
    def conversion(self) -> float:
        return self.converted / self.shown if self.shown else 0.0

    @property
    def ctr_interval(self) -> tuple[float, float]:
        return wilson_interval(self.clicked, self.shown)

    @property
    def conversion_interval(self) -> tuple[float, float]:
        return wilson_interval(self.converted, self.shown)


# Client clocks run behind the server's: events of a window's lists are read from this earlier.
EVENT_CLOCK_SKEW = timedelta(days=1)


def _is(event_types) -> Case:
    return Case(
        When(event_type__in=list(event_types), then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )


def _outcomes(since: datetime | None) -> QuerySet:
    """One row per tracked list that got events: rec_id, clicked (0/1), converted (0/1).

    from_recommendations() repeats the predicate of the partial index on rec_id.
    """
    events = Interaction.objects.from_recommendations().order_by()
    if since is not None:
        events = events.since(since - EVENT_CLOCK_SKEW)
    return (
        events.values("rec_id")
        .annotate(
            clicked=Max(_is(app_settings.CLICK_EVENTS)),
            converted=Max(_is(app_settings.CONVERSION_EVENTS)),
        )
        .values("rec_id", "clicked", "converted")
    )


def _grouped_rates(
    lists: QuerySet, field: str, since: datetime | None
) -> list[tuple[Any, int, int, int]]:
    """(group value, shown, clicked, converted) per value of ``field``, in one query.

    The events are reduced to one row per list and hash-joined to the lists; a correlated
    EXISTS per list costs an index probe per list (several times slower on 1M events).
    """
    shown = lists.order_by().annotate(group_key=F(field)).values("rec_id", "group_key")
    lists_sql, lists_params = shown.query.sql_with_params()
    events_sql, events_params = _outcomes(since).query.sql_with_params()
    sql = (
        "SELECT l.group_key, COUNT(*), SUM(COALESCE(e.clicked, 0)), "
        "SUM(COALESCE(e.converted, 0)) "
        f"FROM ({lists_sql}) l LEFT JOIN ({events_sql}) e ON e.rec_id = l.rec_id "
        "GROUP BY l.group_key ORDER BY l.group_key"
    )
    with connections[lists.db].cursor() as cursor:
        cursor.execute(sql, [*lists_params, *events_params])
        rows = cursor.fetchall()
    return [(key, int(n), int(c or 0), int(v or 0)) for key, n, c, v in rows]


def rates_by_version(days: int = 30) -> list[Rates]:
    """Click-through and conversion of the lists of the window, per model version."""
    since = window_start(days)
    rows = _grouped_rates(Impression.objects.since(since), "model_version", since)
    names = {
        v.pk: str(v)
        for v in ModelVersion.objects.filter(pk__in=[key for key, *_ in rows if key is not None])
    }
    return [
        Rates(key, names.get(key, f"#{key}") if key is not None else "no model (popular)", *counts)
        for key, *counts in rows
    ]


def rates_by_placement(days: int = 30) -> list[Rates]:
    """Click-through and conversion of the lists of the window, per placement."""
    since = window_start(days)
    rows = _grouped_rates(Impression.objects.since(since), "placement", since)
    return [Rates(key, key or "(api)", *counts) for key, *counts in rows]


# -- experiments ------------------------------------------------------------------------------


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% by default); (0, 0) when n is 0."""
    if n <= 0:
        return 0.0, 0.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_z_test(s_a: int, n_a: int, s_b: int, n_b: int) -> tuple[float, float]:
    """Two-sided z-test of equal proportions with the pooled variance.

    Returns:
        (z, p-value); (0.0, 1.0) when either group is empty or nothing varies.
    """
    if n_a <= 0 or n_b <= 0:
        return 0.0, 1.0
    pooled = (s_a + s_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 0.0, 1.0
    z = (s_b / n_b - s_a / n_a) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class Comparison:
    """B against A on one rate: the difference with its 95% interval, the test and a verdict."""

    name: str
    difference: float
    low: float
    high: float
    z: float
    p_value: float
    significant: bool
    verdict: str


def _compare(name: str, s_a: int, n_a: int, s_b: int, n_b: int) -> Comparison:
    p_a = s_a / n_a if n_a else 0.0
    p_b = s_b / n_b if n_b else 0.0
    se = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b) if n_a and n_b else 0.0
    z, p_value = two_proportion_z_test(s_a, n_a, s_b, n_b)
    enough = min(n_a, n_b) >= MIN_LISTS_PER_ARM
    significant = enough and p_value < ALPHA
    if not enough:
        verdict = f"Too early: each arm needs at least {MIN_LISTS_PER_ARM} lists shown."
    elif significant:
        better = "B" if p_b > p_a else "A"
        verdict = (
            f"{better} has the higher {name}; the difference is significant (p = {p_value:.3g})."
        )
    else:
        verdict = f"No significant difference in {name} yet (p = {p_value:.3g})."
    diff = p_b - p_a
    return Comparison(
        name, diff, diff - Z_95 * se, diff + Z_95 * se, z, p_value, significant, verdict
    )


@dataclass(frozen=True)
class ExperimentResult:
    experiment: Experiment
    arms: dict[str, Rates]
    ctr: Comparison
    conversion: Comparison


def experiment_results(experiment: Experiment) -> ExperimentResult:
    """Per-arm lists shown, clicked and converted (one query), B compared with A."""
    lists = Impression.objects.filter(experiment=experiment)
    rows = {arm: counts for arm, *counts in _grouped_rates(lists, "arm", experiment.started_at)}
    versions = {"a": experiment.version_a_id, "b": experiment.version_b_id}
    arms = {arm: Rates(versions[arm], arm.upper(), *rows.get(arm, (0, 0, 0))) for arm in "ab"}
    a, b = arms["a"], arms["b"]
    return ExperimentResult(
        experiment,
        arms,
        _compare("click-through rate", a.clicked, a.shown, b.clicked, b.shown),
        _compare("conversion rate", a.converted, a.shown, b.converted, b.shown),
    )


# -- offline metrics of versions ---------------------------------------------------------------

METRICS = ("ndcg@10", "recall@10", "coverage@10")


def version_metrics(limit: int = 50, slot: str = "default") -> list[dict[str, Any]]:
    """Offline metrics of the newest ``limit`` evaluated versions of a slot, oldest first.

    Returns:
        [{"id", "label", "created", "active", "default": {metric: value}, "popularity": {...}}]
    """
    rows = (
        ModelVersion.objects.in_slot(slot)
        .exclude(metrics={})
        .exclude(status__in=[ModelVersion.Status.QUEUED, ModelVersion.Status.FAILED])
        .order_by("-created_at", "-pk")
        .values_list("pk", "created_at", "is_active", "metrics")[:limit]
    )
    out = []
    for pk, created, active, metrics in reversed(list(rows)):
        out.append(
            {
                "id": pk,
                "label": f"#{pk} {created:%Y-%m-%d}",
                "created": created.isoformat(),
                "active": active,
                **{
                    part: {m: (metrics or {}).get(part, {}).get(m) for m in METRICS}
                    for part in ("default", "popularity")
                },
            }
        )
    return out

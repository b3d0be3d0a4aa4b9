"""A generated demo shop: a catalogue with structure, users with distinct tastes, their history.

Everything is made up here (no downloads), deterministic for a seed, and small enough to
train in seconds on a laptop.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .models import Category, Interaction, Item

__all__ = ["DemoSummary", "build_demo", "demo_exists", "reset_demo", "DEMO_PREFIX", "DEMO_PASSWORD"]

DEMO_PREFIX = "demo-"
DEMO_PASSWORD = "demo"

# category -> (colour, sub-genres -> words used to make titles and descriptions)
CATALOGUE = {
    "Science fiction": (
        "#3b5ba5",
        {
            "space opera": ["Star", "Empire", "Fleet", "Nebula", "Orbit", "Voyage"],
            "cyberpunk": ["Neon", "Circuit", "Ghost", "Signal", "Chrome", "Grid"],
        },
    ),
    "Cooking": (
        "#c0612b",
        {
            "baking": ["Bread", "Crust", "Sourdough", "Pastry", "Oven", "Butter"],
            "vegetarian": ["Garden", "Lentil", "Harvest", "Greens", "Spice", "Market"],
        },
    ),
    "Jazz": (
        "#7a3b8f",
        {
            "bebop": ["Blue", "Bird", "Swing", "Horn", "Midnight", "Bop"],
            "smooth": ["Velvet", "Evening", "Lounge", "Silk", "Harbor", "Glow"],
        },
    ),
    "Hiking": (
        "#2e7d4f",
        {
            "alpine": ["Summit", "Ridge", "Glacier", "Pass", "Peak", "Alpine"],
            "coastal": ["Cliff", "Tide", "Shore", "Dune", "Cove", "Lighthouse"],
        },
    ),
    "History": (
        "#8a6d3b",
        {
            "ancient": ["Rome", "Pharaoh", "Bronze", "Temple", "Legion", "Oracle"],
            "modern": ["Revolution", "Treaty", "Industry", "Republic", "Railway", "Atlas"],
        },
    ),
    "Gaming": (
        "#b23a48",
        {
            "strategy": ["Kingdom", "Siege", "Conquest", "Tactics", "Dynasty", "Frontier"],
            "puzzle": ["Cube", "Maze", "Pixel", "Riddle", "Tile", "Logic"],
        },
    ),
}
NOUNS = [
    "Chronicles",
    "Handbook",
    "Sessions",
    "Guide",
    "Stories",
    "Collection",
    "Edition",
    "Journal",
    "Notes",
    "Tales",
]
EVENTS = [("view", 10), ("click", 4), ("like", 2), ("add_to_cart", 1), ("purchase", 1)]


@dataclass
class DemoSummary:
    items: int
    users: int
    interactions: int


def demo_exists() -> bool:
    return Item.objects.filter(external_id__startswith=DEMO_PREFIX).exists()


@transaction.atomic
def reset_demo() -> None:
    """Remove the demo catalogue, its interactions and the demo users (not the admin)."""
    Item.objects.filter(external_id__startswith=DEMO_PREFIX).delete()
    Category.objects.filter(name__in=CATALOGUE, items__isnull=True).delete()
    User = get_user_model()
    User.objects.filter(**{f"{User.USERNAME_FIELD}__in": _demo_usernames(User)}).delete()


def _username(User, name: str) -> str:
    return f"{name}@demo.example" if User.USERNAME_FIELD == "email" else name


def _demo_usernames(User) -> list[str]:
    return [_username(User, f"shopper{n:02d}") for n in range(80)] + [_username(User, "demo")]


def _make_items(rng: random.Random) -> dict[tuple[str, str], list[Item]]:
    groups: dict[tuple[str, str], list[Item]] = {}
    for name, (colour, subgenres) in CATALOGUE.items():
        category, _ = Category.objects.get_or_create(name=name)
        for sub, words in subgenres.items():
            made = []
            for n in range(14):
                title = f"{rng.choice(words)} {rng.choice(words)} {rng.choice(NOUNS)}"
                item = Item.objects.create(
                    external_id=f"{DEMO_PREFIX}{category.slug}-{sub.replace(' ', '-')}-{n}",
                    title=title,
                    description=f"A {sub} pick from our {name.lower()} shelf: "
                    + " ".join(rng.sample(words, 3)).lower()
                    + ".",
                    properties={
                        "colour": colour,
                        "subgenre": sub,
                        "price": round(rng.uniform(5, 60), 2),
                    },
                )
                item.categories.add(category)
                made.append(item)
            groups[(name, sub)] = made
    return groups


def _make_users(User) -> list:
    from django.contrib.auth.hashers import make_password

    password = make_password(DEMO_PASSWORD)  # hashed once: PBKDF2 is slow on purpose
    users = []
    for name in _demo_usernames(User):
        user = User(**{User.USERNAME_FIELD: name})
        if hasattr(user, "first_name") and name.startswith("demo"):
            user.first_name = "Demo"
        user.password = password
        user.save()
        users.append(user)
    return users


def _history(rng, user, groups, start) -> list[Interaction]:
    keys = list(groups)
    favourites = rng.sample(keys, 2)  # two sub-genres, often in two categories
    rows = []
    for n in range(rng.randint(15, 35)):
        group = (
            favourites[0]
            if rng.random() < 0.6
            else (favourites[1] if rng.random() < 0.8 else rng.choice(keys))
        )
        item = rng.choice(groups[group])
        event = rng.choices([e for e, _ in EVENTS], [w for _, w in EVENTS])[0]
        rows.append(
            Interaction(
                user=user,
                item=item,
                event_type=event,
                timestamp=start + timedelta(hours=n * 7 + rng.random()),
            )
        )
    return rows


@transaction.atomic
def build_demo(seed: int = 42) -> DemoSummary:
    """Create the demo catalogue, 81 users (shopper00..79 and demo) and their histories."""
    rng = random.Random(seed)
    User = get_user_model()
    groups = _make_items(rng)
    users = _make_users(User)
    start = timezone.now() - timedelta(days=14)
    rows = [row for user in users for row in _history(rng, user, groups, start)]
    Interaction.objects.bulk_create(rows, batch_size=2000)
    return DemoSummary(sum(len(g) for g in groups.values()), len(users), len(rows))

"""Shared fixtures: users of the custom user model and a small generated catalogue."""

import pytest
from django.contrib.auth import get_user_model

from recommender.models import Category, Item


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("ann@example.com", "pw-ann-123")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("bob@example.com", "pw-bob-123")


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_superuser("staff@example.com", "pw-staff-123")


@pytest.fixture
def items(db):
    """Ten items in two categories: i0..i4 are 'books', i5..i9 are 'music'."""
    books = Category.objects.create(name="Books")
    music = Category.objects.create(name="Music")
    made = []
    for n in range(10):
        item = Item.objects.create(external_id=f"i{n}", title=f"Item {n}",
                                   description=("a book" if n < 5 else "an album"))
        item.categories.add(books if n < 5 else music)
        made.append(item)
    return made

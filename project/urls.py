"""URLs of the demo site: its pages, the admin and the recommender API."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    # First: the API is the busiest prefix, and Django tries patterns in order.
    path("api/", include("recommender.api.urls")),
    path("", views.home, name="home"),
    path("categories/<slug:slug>/", views.category, name="category"),
    path("items/<str:external_id>/", views.item, name="item"),
    path("items/<str:external_id>/event/", views.item_event, name="item-event"),
    path("login/", views.DemoLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]

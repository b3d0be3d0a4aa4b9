"""URLs of the API; a host includes them: ``path("api/", include("recommender.api.urls"))``."""

from django.apps import apps
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from . import views

app_name = "recommender_api"

router = SimpleRouter()
router.register("items", views.ItemViewSet, basename="item")
router.register("models", views.ModelVersionViewSet, basename="model")

urlpatterns = [
    path("", views.ApiRootView.as_view(), name="root"),
    path("recommendations/", views.RecommendationsView.as_view(), name="recommendations"),
    path(
        "users/<str:user_id>/recommendations/",
        views.UserRecommendationsView.as_view(),
        name="user-recommendations",
    ),
    path("interactions/", views.InteractionsView.as_view(), name="interactions"),
    path("me/data/", views.MyDataView.as_view(), name="my-data"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="recommender_api:schema"), name="docs"),
    *router.urls,
]

if apps.is_installed("rest_framework.authtoken"):
    from .token import TokenView  # imports authtoken's model: only when the app is installed

    urlpatterns.append(path("token/", TokenView.as_view(), name="token"))

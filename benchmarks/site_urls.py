"""URLs of the benchmark server: the demo site's, plus the framework's floor at /bench/floor/."""

from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from project.urls import urlpatterns as site
from recommender.api.views import THROTTLES


class Floor(APIView):
    """A minimal authenticated DRF endpoint with the API's authentication and throttles."""

    permission_classes = [IsAuthenticated]
    throttle_classes = THROTTLES

    def get(self, request):
        return Response({"user": request.user.pk})


urlpatterns = [path("bench/floor/", Floor.as_view()), *site]

"""Token sign-in, documented with its 400 answer (only used with rest_framework.authtoken)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import fields
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken

from .views import THROTTLES, errors

__all__ = ["TokenView"]


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token."""

    throttle_classes = THROTTLES

    @extend_schema(
        request=AuthTokenSerializer,
        responses={200: inline_serializer("Token", {"token": fields.CharField()}), **errors(400)},
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

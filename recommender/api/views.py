"""API endpoints: each validates its input, calls one service, and shapes the answer.

Bad input is answered with a 4xx whose JSON body names the problem; nothing here trains a
model or imports TensorFlow (training is queued for a worker).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError, transaction
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import (
    APIException,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from .. import services
from ..conf import app_settings
from ..models import Item, ModelVersion
from . import serializers as s
from .permissions import IsStaff, IsStaffOrReadOnly, is_staff
from .throttling import AnonThrottle, IngestThrottle, UserThrottle

__all__ = [
    "ApiRootView",
    "Pagination",
    "RecommendationsView",
    "UserRecommendationsView",
    "ItemViewSet",
    "InteractionsView",
    "ModelVersionViewSet",
    "MyDataView",
]

logger = logging.getLogger("recommender")
THROTTLES = [AnonThrottle, UserThrottle]


class DatabaseUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database did not answer; nothing of this request was stored. Retry."
    default_code = "database_unavailable"


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries of the error answers an endpoint may give."""
    words = {
        400: "Invalid input, named in the body.",
        401: "Not signed in.",
        403: "Not allowed.",
        404: "Not found.",
        413: "Body too large.",
        415: "Not JSON.",
        429: "Throttled: retry later.",
        503: "The database did not answer; nothing was stored: retry.",
    }
    return {code: OpenApiResponse(s.ErrorSerializer, words[code]) for code in (*codes, 429)}


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"

    @property
    def page_size(self) -> int:
        return app_settings.PAGE_SIZE

    @property
    def max_page_size(self) -> int:
        return app_settings.MAX_LIMIT


def _list_answer(request, answer, placement: str) -> Response:
    services.record_impression(answer, user=request.user, placement=placement)
    return Response(s.list_payload(answer))


def _query(request) -> dict:
    params = request.query_params
    if not params or params.keys() == {"limit"}:
        # The common query, at most one plain in-range limit, skips building the serializer
        # (a third of a cached list's cost); anything else gets its full validation.
        raw = params.getlist("limit")
        if not raw:
            return {"limit": app_settings.DEFAULT_LIMIT, "categories": [], "exclude": []}
        if len(raw) == 1 and raw[0].isascii() and raw[0].isdigit():
            limit = int(raw[0])
            if 1 <= limit <= app_settings.MAX_LIMIT:
                return {"limit": limit, "categories": [], "exclude": []}
    query = s.ListQuerySerializer(data=params)
    query.is_valid(raise_exception=True)
    return query.to_options()


LIST_PARAMS = [s.ListQuerySerializer]


# -- the root of the browsable API ---------------------------------------------------------


class ApiRootView(APIView):
    """The API's endpoints. The OpenAPI schema is at `schema/`, interactive docs at `docs/`."""

    throttle_classes = THROTTLES

    @extend_schema(exclude=True)
    def get(self, request):
        names = [
            "recommendations",
            "item-list",
            "item-popular",
            "interactions",
            "my-data",
            "model-list",
            "schema",
            "docs",
        ]
        return Response(
            {
                name: reverse(f"{request.resolver_match.namespace}:{name}", request=request)
                for name in names
            }
        )


# -- recommendation lists --------------------------------------------------------------------


class RecommendationsView(APIView):
    """The signed-in user's recommendations (anonymous callers get popular items)."""

    throttle_classes = THROTTLES
    _read = None

    def cache_read(self, request) -> services.ListRead | None:
        """The cache reads of the caller's list, which the throttle fetches with its own."""
        if self._read is None:
            self._read = services.list_read(request.user)
        return self._read

    @extend_schema(
        parameters=LIST_PARAMS, responses={200: s.RecommendationListSerializer, **errors(400)}
    )
    def get(self, request):
        options = _query(request)
        answer = services.recommend_for_user(request.user, **options, read=self._read)
        return _list_answer(request, answer, "api:recommendations")


class UserRecommendationsView(APIView):
    """Any user's recommendations (staff only)."""

    permission_classes = [IsStaff]
    throttle_classes = THROTTLES

    @extend_schema(
        parameters=LIST_PARAMS,
        responses={200: s.RecommendationListSerializer, **errors(400, 401, 403, 404)},
    )
    def get(self, request, user_id: str):
        answer = services.recommend_for_user(_user_or_404(user_id), **_query(request))
        return _list_answer(request, answer, "api:user-recommendations")


def _user_or_404(user_id: str):
    User = get_user_model()
    try:
        return User.objects.get(pk=User._meta.pk.to_python(user_id))
    except (DjangoValidationError, User.DoesNotExist):
        raise NotFound({"user_id": [f"No user {user_id!r}."]}) from None


# -- catalogue -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        parameters=[s.ItemListQuerySerializer],
        responses={200: s.ItemSerializer(many=True), **errors(400, 404)},
    ),
    retrieve=extend_schema(responses={200: s.ItemSerializer, **errors(404)}),
    create=extend_schema(
        request=s.ItemWriteSerializer, responses={201: s.ItemSerializer, **errors(400, 401, 403)}
    ),
    update=extend_schema(
        request=s.ItemWriteSerializer,
        responses={200: s.ItemSerializer, **errors(400, 401, 403, 404)},
    ),
    partial_update=extend_schema(
        request=s.ItemWriteSerializer,
        responses={200: s.ItemSerializer, **errors(400, 401, 403, 404)},
    ),
    destroy=extend_schema(responses={204: None, **errors(401, 403, 404)}),
)
class ItemViewSet(viewsets.ModelViewSet):
    """The catalogue: anyone reads active items; staff see every item and change them."""

    lookup_field = "external_id"
    lookup_value_regex = r"[^/]+"
    permission_classes = [IsStaffOrReadOnly]
    throttle_classes = THROTTLES
    pagination_class = Pagination

    def get_object(self):
        if "\x00" in self.kwargs.get(self.lookup_field, ""):  # no such id can be stored
            raise NotFound({"external_id": ["No item has this id."]})
        return super().get_object()

    def get_queryset(self):
        qs = Item.objects.prefetch_related("categories").order_by("title", "pk")
        return qs if is_staff(self.request.user) else qs.active()

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return s.ItemWriteSerializer
        return s.ItemSerializer

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        query = s.ItemListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return queryset.in_categories(query.validated_data.get("category", []))

    @extend_schema(
        parameters=LIST_PARAMS, responses={200: s.RecommendationListSerializer, **errors(400, 404)}
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def similar(self, request, external_id: str | None = None):
        """Items like this one."""
        answer = services.similar_items(self.get_object(), **_query(request))
        return _list_answer(request, answer, "api:similar")

    @extend_schema(
        parameters=LIST_PARAMS, responses={200: s.RecommendationListSerializer, **errors(400)}
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def popular(self, request):
        """The most popular active items, overall or in categories."""
        answer = services.popular_items(**_query(request))
        return _list_answer(request, answer, "api:popular")


# -- events ----------------------------------------------------------------------------------

EVENTS_BODY = PolymorphicProxySerializer(
    component_name="EventOrBatch",
    serializers=[s.EventSerializer, s.EventSerializer(many=True)],
    resource_type_field_name=None,
    many=False,
)
# An all-rejected batch answers with the per-event result, a malformed one with an error body.
# (anyOf: every IngestResult also fits the open Error shape, so oneOf would never match.)
BAD_BATCH = {
    "anyOf": [{"$ref": "#/components/schemas/IngestResult"}, {"$ref": "#/components/schemas/Error"}]
}


class InteractionsView(APIView):
    """Record one event or a batch for the signed-in user (staff: for any user)."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [IngestThrottle]
    parser_classes = [JSONParser]

    @extend_schema(
        request=EVENTS_BODY,
        responses={
            201: OpenApiResponse(s.IngestResultSerializer, "Some events were stored."),
            200: OpenApiResponse(s.IngestResultSerializer, "Every valid event was a duplicate."),
            400: OpenApiResponse(
                BAD_BATCH,
                "Every event was rejected (which and why), or "
                "the batch itself is malformed (a body naming the problem).",
            ),
            **errors(401, 403, 413, 415, 503),
        },
    )
    def post(self, request):
        events = self._events(request)
        self._check_users(request, events)
        try:
            result = services.record_events(events, user=request.user).as_dict()
        except (OperationalError, InterfaceError) as exc:
            # The batch's transaction never committed: tell the client to retry (its
            # event_ids make the retry safe) rather than answer a bare 500.
            logger.warning("database unavailable while recording events: %s", exc)
            raise DatabaseUnavailable from exc
        if result["created"]:
            code = status.HTTP_201_CREATED
        elif result["duplicates"]:
            code = status.HTTP_200_OK
        else:
            code = status.HTTP_400_BAD_REQUEST
        return Response(result, status=code)

    def _events(self, request) -> list:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        size = int(request.META.get("CONTENT_LENGTH") or 0)
        if limit is not None and size > limit:
            raise PayloadTooLarge(f"The body has {size} bytes; at most {limit} are accepted.")
        data = request.data
        events = [data] if isinstance(data, Mapping) else data
        if not isinstance(events, list):
            raise ValidationError(
                {"non_field_errors": ["Expected an event object or a list of event objects."]}
            )
        if not events:
            raise ValidationError({"non_field_errors": ["The batch is empty."]})
        if len(events) > app_settings.MAX_BATCH:
            raise ValidationError(
                {
                    "non_field_errors": [
                        f"A batch holds at most {app_settings.MAX_BATCH} events; this one has "
                        f"{len(events)}."
                    ]
                }
            )
        _refuse_nul_characters(events)
        return events

    def _check_users(self, request, events: list) -> None:
        if is_staff(request.user):
            return
        own = str(request.user.pk)
        for event in events:
            if isinstance(event, Mapping) and "user" in event and str(event["user"]) != own:
                raise PermissionDenied({"user": ["Only staff may record events of other users."]})


def _refuse_nul_characters(events: list) -> None:
    """Text with a NUL character cannot be stored (PostgreSQL refuses it): name where it is."""
    for index, event in enumerate(events):
        if not isinstance(event, Mapping):
            continue
        for key, value in event.items():
            if "\x00" in str(key) or (isinstance(value, str) and "\x00" in value):
                raise ValidationError(
                    {
                        "non_field_errors": [
                            f"Event {index}: field {str(key)!r} contains a NUL character."
                        ]
                    }
                )


# -- models ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        responses={200: s.ModelVersionSerializer(many=True), **errors(401, 403, 404)}
    ),
    retrieve=extend_schema(
        responses={200: s.ModelVersionDetailSerializer, **errors(401, 403, 404)}
    ),
)
class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Trained model versions with their metrics (staff only); start a training run."""

    queryset = ModelVersion.objects.order_by("-created_at", "-pk")
    # Any id reaches the view, so a malformed one gets the API's JSON 404, not an HTML page.
    lookup_value_regex = "[^/]+"
    permission_classes = [IsStaff]
    throttle_classes = THROTTLES
    pagination_class = Pagination

    def get_serializer_class(self):
        if self.action == "retrieve":
            return s.ModelVersionDetailSerializer
        return s.ModelVersionSerializer

    @extend_schema(
        request=s.TrainRequestSerializer,
        responses={202: s.ModelVersionSerializer, **errors(400, 401, 403)},
    )
    @action(detail=False, methods=["post"])
    def train(self, request):
        """Queue a training run; a worker trains it (and activates it if it is good enough)."""
        body = s.TrainRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = services.enqueue_version(
            body.validated_data.get("params"), slot=body.validated_data["slot"]
        )
        _start_training(version.pk)
        return Response(s.ModelVersionSerializer(version).data, status=status.HTTP_202_ACCEPTED)


def _start_training(version_id: int) -> None:
    """Hand the queued version to the Celery worker once the row is committed."""
    try:
        from ..tasks import train_model
    except ImportError:  # no task module: `recommender_train` trains queued versions
        logger.info("recommender.tasks is unavailable; version %s stays queued", version_id)
        return
    transaction.on_commit(lambda: train_model.delay(version_id))


# -- privacy ---------------------------------------------------------------------------------


class MyDataView(APIView):
    """Export or forget everything the recommender keeps about the signed-in user."""

    permission_classes = [IsAuthenticated]
    throttle_classes = THROTTLES

    @extend_schema(responses={200: s.ExportSerializer, **errors(401, 403)})
    def get(self, request):
        return Response(services.export_user_data(request.user, actor=request.user))

    @extend_schema(responses={200: s.ForgetSerializer, **errors(401, 403)})
    def delete(self, request):
        return Response(services.forget_user(request.user, actor=request.user))

"""Notifications over the API: each person reads and marks only their own (anyone else's is a 404)."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api import component_names
from apps.api.schema import PAGINATION_PARAMETERS, paginated
from apps.core.errors import ValidationFailed
from apps.notifications import selectors, services


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()
    link = serializers.CharField()
    project = serializers.IntegerField(source="project_id", allow_null=True)
    event = serializers.IntegerField(source="event_id", allow_null=True)
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)
    emailed_at = serializers.DateTimeField(allow_null=True)


_UNREAD = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False, "": False}


class NotificationListApi(APIView):
    """The caller's notifications, unread first, then newest first; ``?unread=1`` for unread only."""

    @extend_schema(parameters=[OpenApiParameter("unread", bool, required=False), *PAGINATION_PARAMETERS],
                   responses=paginated("PaginatedNotificationList", NotificationSerializer))
    def get(self, request):
        raw = request.query_params.get("unread", "").strip().lower()
        if raw not in _UNREAD:
            raise ValidationFailed("Give the unread filter as 1 or 0 (true or false).")
        rows = selectors.notifications_for_user(request.user, unread_only=_UNREAD[raw])
        paginator = LimitOffsetPagination()
        paginator.default_limit = 50
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(NotificationSerializer(page, many=True).data)


class NotificationReadApi(APIView):
    @extend_schema(request=None, responses=NotificationSerializer)
    def post(self, request, notification_id: int):
        notification = selectors.notification_for_user(request.user, notification_id)
        notification = services.notification_mark_read(actor=request.user, notification=notification)
        return Response(NotificationSerializer(notification).data)


@component_names
class NotificationReadAllApi(APIView):
    class OutputSerializer(serializers.Serializer):
        marked = serializers.IntegerField()

    @extend_schema(request=None, responses=OutputSerializer)
    def post(self, request):
        return Response({"marked": services.notifications_mark_all_read(actor=request.user)})


@component_names
class NotificationPreferencesApi(APIView):
    class InputSerializer(serializers.Serializer):
        email = serializers.BooleanField()

    class OutputSerializer(serializers.Serializer):
        email = serializers.BooleanField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        return Response({"email": selectors.email_enabled(request.user)})

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preference = services.notification_preferences_set(actor=request.user, email=data.validated_data["email"])
        return Response({"email": preference.email})

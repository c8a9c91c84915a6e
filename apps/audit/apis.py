from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import IsAdminUser
from rest_framework.views import APIView

from apps.audit.models import AuditEvent
from apps.audit.selectors import AuditFilters, audit_events


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "event_time", "actor_label", "action", "project", "object_type", "object_id",
                  "before", "after", "request_id", "prev_hash", "hash"]


class AuditListApi(APIView):
    """The audit trail, newest first; staff only."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=[OpenApiParameter(n, str, required=False) for n in ("project", "actor", "action", "since", "until")],
        responses=AuditEventSerializer(many=True),
    )
    def get(self, request):
        events = audit_events(AuditFilters.parse(request.query_params))
        paginator = LimitOffsetPagination()
        paginator.default_limit = 100
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(AuditEventSerializer(page, many=True).data)

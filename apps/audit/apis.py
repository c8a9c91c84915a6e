from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import IsAdminUser
from rest_framework.views import APIView

from apps.api.schema import PAGINATION_PARAMETERS, paginated
from apps.audit.models import AuditEvent
from apps.audit.selectors import AuditFilters, audit_events
from apps.core.errors import ValidationFailed


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "event_time", "actor_label", "action", "project", "object_type", "object_id",
                  "before", "after", "request_id", "prev_hash", "hash"]


class AuditListApi(APIView):
    """The audit trail, newest first; staff only."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=[OpenApiParameter("project", int, required=False),
                    *(OpenApiParameter(n, str, required=False) for n in ("actor", "action")),
                    *(OpenApiParameter(n, OpenApiTypes.DATE, required=False) for n in ("since", "until")),
                    *PAGINATION_PARAMETERS],
        responses=paginated("PaginatedAuditEventList", AuditEventSerializer),
    )
    def get(self, request):
        if any("\x00" in value for value in request.query_params.values()):
            # PostgreSQL cannot compare text with a NUL in it (it would be a 500); no filter can match one.
            raise ValidationFailed("A filter cannot contain a NUL character.")
        events = audit_events(AuditFilters.parse(request.query_params))
        paginator = LimitOffsetPagination()
        paginator.default_limit = 100
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(AuditEventSerializer(page, many=True).data)

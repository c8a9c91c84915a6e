from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api import component_names
from apps.playbook import selectors as play_selectors
from apps.training import candidates as rules
from apps.training.candidates import candidate_register
from apps.training.models import Candidate


class CandidateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Candidate
        fields = ["id", "name", "source", "licence", "licence_permits", "domain_rating", "domain_note",
                  "latency_budget_ms", "memory_budget_mb", "created_at"]


@component_names
class CandidateListCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        # The service's own rules, stated in the schema: a body the schema accepts is never refused by field.
        name = serializers.CharField(max_length=rules.NAME_MAX)
        source = serializers.RegexField(rules.SOURCE_PATTERN, max_length=500,
                                        help_text="A local model directory (holding a config.json) or a hub id.")
        licence = serializers.RegexField(rules.LICENCE_PATTERN, max_length=64, help_text="An SPDX identifier.")
        licence_permits = serializers.BooleanField(required=False, allow_null=True, default=None)
        domain_rating = serializers.IntegerField(min_value=1, max_value=5)
        domain_note = serializers.CharField(required=False, allow_blank=True, default="")
        latency_budget_ms = serializers.FloatField(min_value=rules.LATENCY_MS[0], max_value=rules.LATENCY_MS[1])
        memory_budget_mb = serializers.FloatField(min_value=rules.MEMORY_MB[0], max_value=rules.MEMORY_MB[1])

    @extend_schema(responses=CandidateSerializer(many=True))
    def get(self, request, project_id: int):
        project = play_selectors.project_for_user(request.user, project_id)
        return Response(CandidateSerializer(project.candidates.all(), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CandidateSerializer})
    def post(self, request, project_id: int):
        project = play_selectors.project_for_user(request.user, project_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        candidate = candidate_register(actor=request.user, project=project, **data.validated_data)
        return Response(CandidateSerializer(candidate).data, status=status.HTTP_201_CREATED)

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api import component_names
from apps.playbook import selectors as play_selectors
from apps.training import selectors, services
from apps.training.candidates import candidate_register
from apps.training.models import Candidate, Job


class JobSerializer(serializers.ModelSerializer):
    play = serializers.IntegerField(source="play_id")
    metrics = serializers.SerializerMethodField()
    artifacts = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "progress", "message", "result", "error", "params", "play",
                  "device", "worker_host", "heartbeat_at", "created_at", "started_at", "finished_at",
                  "cancel_requested", "metrics", "artifacts"]

    def get_metrics(self, job) -> dict:
        return selectors.job_metric_series(job)

    def get_artifacts(self, job) -> list[dict]:
        return [{"kind": a.kind, "sha256": a.sha256, "size_bytes": a.size_bytes, "label": a.label}
                for a in job.artifacts.all()]


@component_names
class JobCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        play = serializers.IntegerField()
        kind = serializers.ChoiceField(choices=Job.Kind.values)
        params = serializers.DictField(required=False, default=dict)

    @extend_schema(request=InputSerializer, responses={201: JobSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        play = play_selectors.play_for_user(request.user, data.validated_data["play"])
        job = services.job_start(actor=request.user, play=play, kind=data.validated_data["kind"],
                                 params=data.validated_data["params"])
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


@component_names
class JobDetailApi(APIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request, job_id: int):
        return Response(JobSerializer(selectors.job_for_user(request.user, job_id)).data)


@component_names
class JobCancelApi(APIView):
    @extend_schema(request=None, responses=JobSerializer)
    def post(self, request, job_id: int):
        job = selectors.job_for_user(request.user, job_id)
        job = services.job_cancel(actor=request.user, job=job)
        return Response(JobSerializer(job).data)


class CandidateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Candidate
        fields = ["id", "name", "source", "licence", "licence_permits", "domain_rating", "domain_note",
                  "latency_budget_ms", "memory_budget_mb", "created_at"]


@component_names
class CandidateListCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=120)
        source = serializers.CharField(max_length=500)
        licence = serializers.CharField(max_length=64)
        licence_permits = serializers.BooleanField(required=False, allow_null=True, default=None)
        domain_rating = serializers.IntegerField(min_value=1, max_value=5)
        domain_note = serializers.CharField(required=False, allow_blank=True, default="")
        latency_budget_ms = serializers.FloatField()
        memory_budget_mb = serializers.FloatField()

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

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api import component_names
from apps.playbook import selectors as play_selectors
from apps.training import selectors, services
from apps.training.models import Job


class JobSerializer(serializers.ModelSerializer):
    play = serializers.IntegerField(source="play_id")
    metrics = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "progress", "message", "result", "error", "params", "play",
                  "device", "worker_host", "heartbeat_at", "created_at", "started_at", "finished_at",
                  "cancel_requested", "metrics"]

    def get_metrics(self, job) -> dict:
        return selectors.job_metric_series(job)


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

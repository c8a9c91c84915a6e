"""Play 5's API: the evaluation report, its per-example predictions (sign-off owners and admins; each
download audited) and the sign-off record."""
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api import component_names
from apps.evaluation import selectors, services

REPORT_KEYS = ("metric", "direction", "margin", "reference", "models", "delta", "per_class", "slices",
               "calibration", "production", "regressions", "improvements", "confident_errors", "confusion",
               "latency", "label_names", "rows", "resamples", "seed", "candidate", "reference_kind",
               "regressions_count", "improvements_count", "positive_label", "golden")


class EvaluationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    play = serializers.IntegerField(source="play_id")
    job = serializers.IntegerField(source="job_id")
    created_at = serializers.DateTimeField()
    verdict = serializers.CharField()
    temperature = serializers.FloatField(allow_null=True)
    hashes = serializers.SerializerMethodField()
    record = serializers.SerializerMethodField()

    def get_hashes(self, evaluation) -> dict:
        golden = (evaluation.report.get("golden") or {}).get("split_sha256")
        return {"candidate_checkpoint": evaluation.checkpoint_sha256, "test_split": evaluation.test_split_sha256,
                "predictions": evaluation.predictions.sha256, **({"golden_split": golden} if golden else {})}

    def get_record(self, evaluation) -> dict | None:
        if evaluation.record_pdf is None:
            return None
        return {"decision": evaluation.record_decision_id, "html_sha256": evaluation.record_html.sha256,
                "pdf_sha256": evaluation.record_pdf.sha256}

    def to_representation(self, evaluation):
        data = super().to_representation(evaluation)
        report = selectors.report_in_order(evaluation.report)
        data.update({key: report.get(key) for key in REPORT_KEYS})
        return data


@component_names
class EvaluationDetailApi(APIView):
    @extend_schema(responses=EvaluationSerializer)
    def get(self, request, evaluation_id: int):
        return Response(EvaluationSerializer(selectors.evaluation_for_user(request.user, evaluation_id)).data)


@component_names
class EvaluationPredictionsApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, evaluation_id: int):
        evaluation = selectors.evaluation_for_user(request.user, evaluation_id)
        services.evaluation_predictions_read(actor=request.user, evaluation=evaluation)
        return Response({"evaluation": evaluation.pk, "sha256": evaluation.predictions.sha256,
                         "rows": selectors.predictions(evaluation)})


@component_names
class EvaluationRecordApi(APIView):
    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, (200, "text/html"): OpenApiTypes.STR})
    def get(self, request, evaluation_id: int, fmt: str):
        return selectors.record_response(selectors.evaluation_for_user(request.user, evaluation_id), fmt)

"""Play 6's API: packages, deployments (deploy, promote, roll back), and production traffic — the predict
endpoint served by the web process with onnxruntime, predictions and feedback sent in by systems that serve
the model elsewhere (a client token scoped to one deployment, or a model or data owner), windows and alerts."""
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import NotAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api import component_names
from apps.core import storage
from apps.core.errors import NotAllowed, NotFound
from apps.monitoring import selectors, serving, services, traffic
from apps.monitoring.models import Deployment
from apps.playbook import policy
from apps.playbook.policy import Action


class PackageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    job = serializers.IntegerField(source="job_id")
    evaluation = serializers.IntegerField(source="evaluation_id")
    shipped = serializers.CharField()
    model_name = serializers.CharField()
    sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField()
    label_names = serializers.ListField(child=serializers.CharField())
    temperature = serializers.FloatField(allow_null=True)
    parity = serializers.JSONField()
    manifest = serializers.JSONField()
    card = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_card(self, package) -> str:
        path = storage.absolute(package.path) / "README.md"
        return path.read_text(encoding="utf-8") if path.exists() else ""


class DeploymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    package = serializers.IntegerField(source="package_id")
    stage = serializers.CharField()
    replaced = serializers.IntegerField(source="replaced_id", allow_null=True)
    created_at = serializers.DateTimeField()
    history = serializers.SerializerMethodField()

    def get_history(self, deployment) -> list[dict]:
        return [{"action": h.action, "from": h.from_stage, "to": h.to_stage, "reason": h.reason,
                 "by": h.by, "decision": h.decision_id, "at": h.at}
                for h in deployment.history.select_related("actor", "decision__decided_by")]


@component_names
class PackageDetailApi(APIView):
    @extend_schema(responses=PackageSerializer)
    def get(self, request, package_id: int):
        return Response(PackageSerializer(selectors.package_for_user(request.user, package_id)).data)


@component_names
class PackageDownloadApi(APIView):
    @extend_schema(responses={(200, "application/gzip"): OpenApiTypes.BINARY})
    def get(self, request, package_id: int):
        return selectors.package_download(selectors.package_for_user(request.user, package_id))


@component_names
class DeploymentListCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        package = serializers.IntegerField()
        stage = serializers.ChoiceField(choices=["challenger"], default="challenger",
                                        help_text="A package is deployed as the challenger; promote it to production.")
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses={201: DeploymentSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        package = selectors.package_for_user(request.user, data.validated_data["package"])
        deployment = services.deployment_create(actor=request.user, package=package,
                                                reason=data.validated_data["reason"])
        return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)


@component_names
class DeploymentDetailApi(APIView):
    @extend_schema(responses=DeploymentSerializer)
    def get(self, request, deployment_id: int):
        return Response(DeploymentSerializer(selectors.deployment_for_user(request.user, deployment_id)).data)


class _ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


@component_names
class DeploymentPromoteApi(APIView):
    @extend_schema(request=_ReasonSerializer, responses=DeploymentSerializer)
    def post(self, request, deployment_id: int):
        deployment = selectors.deployment_for_user(request.user, deployment_id)
        data = _ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deployment = services.deployment_promote(actor=request.user, deployment=deployment,
                                                 reason=data.validated_data["reason"])
        return Response(DeploymentSerializer(deployment).data)


@component_names
class DeploymentRollbackApi(APIView):
    @extend_schema(request=_ReasonSerializer, responses=DeploymentSerializer)
    def post(self, request, deployment_id: int):
        deployment = selectors.deployment_for_user(request.user, deployment_id)
        data = _ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        restored = services.deployment_rollback(actor=request.user, deployment=deployment,
                                                reason=data.validated_data["reason"])
        return Response(DeploymentSerializer(restored).data)


# --- traffic ----------------------------------------------------------------------------------------------


def _traffic_deployment(request, deployment_id: int) -> Deployment:
    """The deployment a traffic call is for: a client token must be this deployment's; a person must be
    one of its project's model or data owners. Anyone else learns nothing (404)."""
    header = get_authorization_header(request).split()
    if len(header) == 2 and header[0].lower() == b"client":
        token = traffic.client_token_for(header[1].decode("latin-1"))
        if token is None or token.deployment_id != int(deployment_id):
            raise NotFound("No such deployment.")
        return token.deployment
    user = request.user
    if not getattr(user, "is_authenticated", False):
        raise NotAuthenticated("Send a client token (Authorization: Client <key>) or sign in.")
    deployment = selectors.deployment_for_user(user, deployment_id)
    verdict = policy.check(user, Action.TRAFFIC_SEND, deployment.project)
    if not verdict:
        raise NotAllowed(verdict.reason)
    return deployment


class _TrafficView(APIView):
    # Client systems authenticate with their own token, checked per deployment in _traffic_deployment.
    permission_classes: list = []


@component_names
class PredictApi(_TrafficView):
    class InputSerializer(serializers.Serializer):
        texts = serializers.ListField(child=serializers.CharField(allow_blank=True, trim_whitespace=False),
                                      allow_empty=True)

    @extend_schema(request=InputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, deployment_id: int):
        deployment = _traffic_deployment(request, deployment_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if deployment.package.shipped != "candidate":
            raise NotFound("This deployment's package is a baseline: Playbook serves ONNX models only; log its "
                           "predictions through /predictions/.")
        answers = traffic.predictions_serve(deployment=deployment, texts=data.validated_data["texts"],
                                            predictor=serving.answers_for(deployment.package))
        return Response({"deployment": deployment.pk, "predictions": answers})


@component_names
class PredictionIngestApi(_TrafficView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, deployment_id: int):
        deployment = _traffic_deployment(request, deployment_id)
        rows = request.data.get("predictions") if isinstance(request.data, dict) else request.data
        return Response(traffic.predictions_ingest(deployment=deployment, rows=rows), status=status.HTTP_201_CREATED)


@component_names
class FeedbackIngestApi(_TrafficView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, deployment_id: int):
        deployment = _traffic_deployment(request, deployment_id)
        rows = request.data
        if isinstance(rows, dict):  # {feedback: [...]} or one {id, label}
            rows = rows["feedback"] if "feedback" in rows else [rows]
        return Response(traffic.feedback_ingest(deployment=deployment, rows=rows), status=status.HTTP_201_CREATED)


class WindowSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    job = serializers.IntegerField(source="job_id")
    first_at = serializers.DateTimeField()
    last_at = serializers.DateTimeField()
    rows = serializers.IntegerField()
    labelled = serializers.IntegerField()
    judged = serializers.BooleanField()
    breached = serializers.SerializerMethodField()
    signals = serializers.SerializerMethodField()
    decision = serializers.SerializerMethodField()

    def get_breached(self, window) -> list:
        return window.result.get("breached", [])

    def get_signals(self, window) -> dict | None:
        return window.result.get("signals")

    def get_decision(self, window) -> dict | None:
        return window.result.get("decision")


class AlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    deployment = serializers.IntegerField(source="deployment_id")
    project = serializers.IntegerField(source="deployment.project_id")
    window = serializers.IntegerField(source="window.index")
    signal = serializers.CharField()
    audience = serializers.CharField()
    reason = serializers.CharField()
    retrain = serializers.BooleanField()
    cycle = serializers.IntegerField(source="cycle.number", allow_null=True, default=None)
    created_at = serializers.DateTimeField()


@component_names
class DeploymentWindowsApi(APIView):
    @extend_schema(responses=WindowSerializer(many=True))
    def get(self, request, deployment_id: int):
        deployment = selectors.deployment_for_user(request.user, deployment_id)
        return Response(WindowSerializer(deployment.windows.order_by("index"), many=True).data)


@component_names
class AlertListApi(APIView):
    @extend_schema(responses=AlertSerializer(many=True))
    def get(self, request):
        return Response(AlertSerializer(selectors.alerts_for_user(request.user)[:200], many=True).data)


@component_names
class DeploymentProductionDataApi(APIView):
    """The data owner adds the deployment's labelled production predictions as a new dataset version."""

    class InputSerializer(serializers.Serializer):
        since = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                          help_text="Only predictions made from then on.")

    @extend_schema(request=InputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, deployment_id: int):
        from apps.datasets.apis import DatasetSerializer
        from apps.monitoring.production_data import production_data_add

        deployment = selectors.deployment_for_user(request.user, deployment_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = production_data_add(actor=request.user, deployment=deployment, since=data.validated_data["since"])
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Role
from apps.api import component_names
from apps.playbook import selectors, services
from apps.core import registry
from apps.jobs.models import Job
from apps.jobs.selectors import job_metric_series
from apps.playbook.models import GateDecision
from apps.playbook.services import CLOSING


class PlaySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    title = serializers.CharField(source="definition.title")
    trigger = serializers.CharField(source="definition.trigger")
    status = serializers.CharField()
    owner_role = serializers.CharField()
    assignee = serializers.SerializerMethodField()

    def get_assignee(self, play) -> str | None:
        return play.assignee.get_username() if play.assignee else None


class PlayDetailSerializer(PlaySerializer):
    project = serializers.IntegerField(source="cycle.project_id")
    cycle = serializers.IntegerField(source="cycle.number")
    deliverable = serializers.JSONField()
    evidence = serializers.JSONField()
    rejection_reason = serializers.CharField()
    submitted_by = serializers.SerializerMethodField()
    checks = serializers.SerializerMethodField()

    def get_submitted_by(self, play) -> str | None:
        return play.submitted_by.get_username() if play.submitted_by else None

    def get_checks(self, play) -> list[dict]:
        return [c.as_dict() for c in registry.play_module(play.number).checks(play)]


class ProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    request = serializers.CharField()
    status = serializers.CharField()
    solo_mode = serializers.BooleanField()
    signoff_approvals = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    closed_reason = serializers.CharField()
    closed_at = serializers.DateTimeField(allow_null=True)
    cycle = serializers.SerializerMethodField()
    members = serializers.SerializerMethodField()
    plays = serializers.SerializerMethodField()

    def get_members(self, project) -> dict:
        return {role: [u.get_username() for u in users] for role, users in selectors.members_by_role(project).items()}

    def get_cycle(self, project) -> dict | None:
        cycle = selectors.current_cycle(project)
        return ({"number": cycle.number, "status": cycle.status, "started_reason": cycle.started_reason,
                 "trigger": cycle.trigger} if cycle else None)

    def get_plays(self, project) -> list[dict]:
        return PlaySerializer(selectors.cycle_plays(selectors.current_cycle(project)), many=True).data


@component_names
class ProjectListCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        request = serializers.CharField()

    @extend_schema(responses=ProjectSerializer(many=True))
    def get(self, request):
        return Response(ProjectSerializer(selectors.projects_for_user(request.user), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: ProjectSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(actor=request.user, **data.validated_data)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


@component_names
class ProjectDetailApi(APIView):
    @extend_schema(responses=ProjectSerializer)
    def get(self, request, project_id: int):
        return Response(ProjectSerializer(selectors.project_for_user(request.user, project_id)).data)


@component_names
class ProjectMemberAddApi(APIView):
    class InputSerializer(serializers.Serializer):
        username = serializers.CharField()
        role = serializers.ChoiceField(choices=Role.values)

    @extend_schema(request=InputSerializer, responses={201: ProjectSerializer})
    def post(self, request, project_id: int):
        project = selectors.project_for_user(request.user, project_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.member_add(actor=request.user, project=project, **data.validated_data)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


@component_names
class ProjectSoloApi(APIView):
    class InputSerializer(serializers.Serializer):
        solo_mode = serializers.BooleanField()

    @extend_schema(request=InputSerializer, responses=ProjectSerializer)
    def post(self, request, project_id: int):
        project = selectors.project_for_user(request.user, project_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_set_solo(actor=request.user, project=project, solo=data.validated_data["solo_mode"])
        return Response(ProjectSerializer(project).data)


@component_names
class ProjectSignoffApprovalsApi(APIView):
    class InputSerializer(serializers.Serializer):
        approvals = serializers.ChoiceField(choices=[1, 2])

    @extend_schema(request=InputSerializer, responses=ProjectSerializer)
    def post(self, request, project_id: int):
        project = selectors.project_for_user(request.user, project_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_set_signoff_approvals(actor=request.user, project=project,
                                                         approvals=data.validated_data["approvals"])
        return Response(ProjectSerializer(project).data)


@component_names
class ProjectPlayListApi(APIView):
    @extend_schema(responses=PlaySerializer(many=True))
    def get(self, request, project_id: int):
        project = selectors.project_for_user(request.user, project_id)
        return Response(PlaySerializer(selectors.cycle_plays(selectors.current_cycle(project)), many=True).data)


@component_names
class PlayDetailApi(APIView):
    class InputSerializer(serializers.Serializer):
        deliverable = serializers.DictField()

    @extend_schema(responses=PlayDetailSerializer)
    def get(self, request, play_id: int):
        return Response(PlayDetailSerializer(selectors.play_for_user(request.user, play_id)).data)

    @extend_schema(request=InputSerializer, responses=PlayDetailSerializer)
    def patch(self, request, play_id: int):
        play = selectors.play_for_user(request.user, play_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        play = services.play_update_deliverable(actor=request.user, play=play,
                                                deliverable=data.validated_data["deliverable"])
        return Response(PlayDetailSerializer(play).data)


@component_names
class PlaySubmitApi(APIView):
    @extend_schema(request=None, responses=PlayDetailSerializer)
    def post(self, request, play_id: int):
        play = selectors.play_for_user(request.user, play_id)
        play = services.play_submit(actor=request.user, play=play)
        return Response(PlayDetailSerializer(play).data)


@component_names
class GateDecisionApi(APIView):
    class InputSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(choices=GateDecision.Decision.values)
        reason = serializers.CharField(required=False, allow_blank=True, default="")
        hat_switch = serializers.BooleanField(required=False, default=False,
                                              help_text="Solo mode: I am now acting as sign-off owner.")

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        decision = serializers.CharField()
        reason = serializers.CharField()
        hat_switch = serializers.BooleanField()
        play = PlayDetailSerializer()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request, play_id: int):
        play = selectors.play_for_user(request.user, play_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = services.gate_decide(actor=request.user, play=play, **data.validated_data)
        record.play = selectors.play_for_user(request.user, play_id)
        return Response(self.OutputSerializer(record).data, status=status.HTTP_201_CREATED)


@component_names
class ProjectCloseApi(APIView):
    class InputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(choices=list(CLOSING))
        reason = serializers.CharField()

    @extend_schema(request=InputSerializer, responses=ProjectSerializer)
    def post(self, request, project_id: int):
        project = selectors.project_for_user(request.user, project_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_close(actor=request.user, project=project, **data.validated_data)
        return Response(ProjectSerializer(project).data)


@component_names
class ProjectRetrainApi(APIView):
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={201: ProjectSerializer})
    def post(self, request, project_id: int):
        project = selectors.project_for_user(request.user, project_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.cycle_open_retrain(actor=request.user, project=project, reason=data.validated_data["reason"])
        project.refresh_from_db()
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class JobSerializer(serializers.ModelSerializer):
    play = serializers.IntegerField(source="play_id", allow_null=True)
    requested_by = serializers.SerializerMethodField()
    metrics = serializers.SerializerMethodField()
    artifacts = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "progress", "message", "result", "error", "params", "play",
                  "subject_type", "subject_id", "queue", "requested_by",
                  "device", "worker_host", "heartbeat_at", "created_at", "started_at", "finished_at",
                  "cancel_requested", "metrics", "artifacts"]

    def get_requested_by(self, job) -> str:
        return job.created_by.get_username() if job.created_by else "system"

    def get_metrics(self, job) -> dict:
        return job_metric_series(job)

    def get_artifacts(self, job) -> list[dict]:
        return [{"kind": a.kind, "sha256": a.sha256, "size_bytes": a.size_bytes, "label": a.label}
                for a in job.artifacts.all()]


@component_names
class JobCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        play = serializers.IntegerField()
        kind = serializers.CharField(help_text="One of the kinds the play runs (see the play's page).")
        params = serializers.DictField(required=False, default=dict)

    @extend_schema(request=InputSerializer, responses={201: JobSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        play = selectors.play_for_user(request.user, data.validated_data["play"])
        job = services.play_job_start(actor=request.user, play=play, kind=data.validated_data["kind"],
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


class CanViewPortfolio(BasePermission):
    """Admins and leads (holders of playbook.view_portfolio); a caller who is not signed in gets the 401."""

    message = "Only admins and leads may see the portfolio."

    def has_permission(self, request, view) -> bool:
        from apps.playbook.portfolio import can_view_portfolio

        return can_view_portfolio(request.user)


class PortfolioPlaySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.CharField()
    assignee = serializers.CharField(allow_null=True)


class PortfolioProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    cycle = serializers.IntegerField(allow_null=True)
    state = serializers.CharField(help_text="submitted, rejected, in_progress, ready, idle or closed")
    state_label = serializers.CharField()
    outcome = serializers.CharField(help_text="How a closed project ended; empty while it is active.")
    closed_reason = serializers.CharField()
    play = PortfolioPlaySerializer(allow_null=True, help_text="The current play: the first open one.")
    open_since = serializers.DateTimeField(allow_null=True)
    open_seconds = serializers.IntegerField(allow_null=True)
    open_for = serializers.CharField()
    waiting_seconds = serializers.IntegerField(allow_null=True)
    waiting_for = serializers.CharField()
    stuck = serializers.BooleanField()


class PortfolioGateSerializer(serializers.Serializer):
    play = serializers.IntegerField()
    number = serializers.IntegerField()
    title = serializers.CharField()
    project = serializers.IntegerField()
    project_name = serializers.CharField()
    cycle = serializers.IntegerField()
    submitted_at = serializers.DateTimeField()
    submitted_by = serializers.CharField(allow_null=True)
    waiting_seconds = serializers.IntegerField()
    waiting_for = serializers.CharField()
    deciders = serializers.ListField(child=serializers.CharField())
    stuck = serializers.BooleanField()


class PortfolioJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    project = serializers.IntegerField()
    project_name = serializers.CharField()
    play = serializers.IntegerField(allow_null=True)
    play_number = serializers.IntegerField(allow_null=True)
    cycle = serializers.IntegerField(allow_null=True)
    since = serializers.DateTimeField()
    running_seconds = serializers.IntegerField()
    running_for = serializers.CharField()
    progress = serializers.IntegerField(help_text="Percent done.")


class PortfolioPlayTimeSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    title = serializers.CharField()
    plays_measured = serializers.IntegerField()
    median_seconds = serializers.IntegerField(allow_null=True)
    median = serializers.CharField()
    max_seconds = serializers.IntegerField(allow_null=True)
    max = serializers.CharField()


class PortfolioSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    stuck_after_days = serializers.IntegerField()
    projects = PortfolioProjectSerializer(many=True)
    gates = PortfolioGateSerializer(many=True)
    jobs = PortfolioJobSerializer(many=True)
    play_times = PortfolioPlayTimeSerializer(many=True)


class PortfolioApi(APIView):
    """Every project's cycle and current play, the gates waiting, the jobs running, time per play and the
    stuck plays: the portfolio page's figures (admins and leads)."""

    permission_classes = [CanViewPortfolio]

    @extend_schema(responses=PortfolioSerializer)
    def get(self, request):
        from apps.playbook.portfolio import as_dict, portfolio

        return Response(as_dict(portfolio()))

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Role
from apps.api import component_names
from apps.playbook import selectors, services
from apps.playbook.gates import spec_for
from apps.playbook.models import GateDecision


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
        return [c.as_dict() for c in spec_for(play).checks(play)]


class ProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    request = serializers.CharField()
    status = serializers.CharField()
    solo_mode = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    members = serializers.SerializerMethodField()
    plays = serializers.SerializerMethodField()

    def get_members(self, project) -> dict:
        return {role: [u.get_username() for u in users] for role, users in selectors.members_by_role(project).items()}

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

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import ApiToken
from apps.accounts.services import (
    LockedOut,
    api_token_create,
    api_token_get,
    api_token_revoke,
    api_tokens_visible,
    token_issue,
)
from apps.api import component_names
from apps.core.errors import ValidationFailed


class ApiTokenSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="user.username", read_only=True)
    revoked_by = serializers.CharField(source="revoked_by.username", read_only=True, allow_null=True, default=None)
    live = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "owner", "created_at", "expires_at", "last_used_at", "revoked_at",
                  "revoked_by", "live"]

    def get_live(self, token) -> bool:
        from django.utils import timezone

        return not token.refusal(timezone.now())


@component_names
class TokenObtainApi(APIView):
    """Exchange a username and password for a new API token: then send `Authorization: Token <token>`.
    Each call makes a token (it lasts PLAYBOOK_API_TOKEN_DAYS days); repeated failures lock the username
    out from this address for a while (429)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField()
        password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The Django request, not DRF's: django-axes marks it when the username is locked out here.
        user = authenticate(request._request, **data.validated_data)
        if getattr(request._request, "axes_locked_out", False):
            raise LockedOut(lockout_message())
        if user is None:
            raise ValidationFailed("Unable to sign in with those credentials.")
        return Response({"token": token_issue(user=user).key})


def lockout_message() -> str:
    return (f"Too many failed sign-ins: this username is locked out from your address for "
            f"{settings.PLAYBOOK_LOCKOUT_MINUTES} minutes. Try again later or ask an admin.")


@component_names
class ApiTokenListCreateApi(APIView):
    """Your API tokens (an admin sees everyone's); POST makes one and returns its key, shown this once."""

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=120)
        days = serializers.IntegerField(min_value=1, max_value=settings.PLAYBOOK_API_TOKEN_DAYS, required=False)

    class OutputSerializer(ApiTokenSerializer):
        key = serializers.CharField(read_only=True)

        class Meta(ApiTokenSerializer.Meta):
            fields = [*ApiTokenSerializer.Meta.fields, "key"]

    @extend_schema(responses=ApiTokenSerializer(many=True))
    def get(self, request):
        return Response(ApiTokenSerializer(api_tokens_visible(actor=request.user), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = api_token_create(actor=request.user, **data.validated_data)
        body = ApiTokenSerializer(issued.token).data
        return Response({**body, "key": issued.key}, status=status.HTTP_201_CREATED)


class ApiTokenDetailApi(APIView):
    """One token (its owner or an admin); DELETE revokes it (audited) and returns it."""

    @extend_schema(responses=ApiTokenSerializer)
    def get(self, request, token_id: int):
        return Response(ApiTokenSerializer(api_token_get(actor=request.user, token_id=token_id)).data)

    @extend_schema(request=None, responses=ApiTokenSerializer)
    def delete(self, request, token_id: int):
        token = api_token_revoke(actor=request.user, token=api_token_get(actor=request.user, token_id=token_id))
        return Response(ApiTokenSerializer(token).data)

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api import component_names
from apps.datasets.models import Dataset
from apps.datasets.services import dataset_upload
from apps.playbook import selectors


class DatasetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["id", "name", "kind", "rows", "labelled_rows", "labels", "label_counts", "sha256", "warnings",
                  "text_column", "label_column", "parent", "created_at"]


@component_names
class DatasetUploadApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        name = serializers.CharField(required=False, allow_blank=True, default="")
        kind = serializers.ChoiceField(choices=Dataset.Kind.values, required=False, default=Dataset.Kind.BASELINE_SAMPLE)
        text_column = serializers.CharField(required=False, default="text")
        label_column = serializers.CharField(required=False, default="label")

    @extend_schema(request={"multipart/form-data": InputSerializer}, responses={201: DatasetSerializer})
    def post(self, request, project_id: int):
        project = selectors.project_for_user(request.user, project_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = dataset_upload(actor=request.user, project=project, upload=data.validated_data.pop("file"),
                                 **data.validated_data)
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=DatasetSerializer(many=True))
    def get(self, request, project_id: int):
        project = selectors.project_for_user(request.user, project_id)
        return Response(DatasetSerializer(project.datasets.all(), many=True).data)

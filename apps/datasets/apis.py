from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api import component_names
from apps.core.errors import NotFound
from apps.playbook.apis import JobSerializer
from apps.datasets import curation, selectors
from apps.datasets.ingest import UploadLimit
from apps.datasets.models import Dataset
from apps.datasets.services import dataset_upload
from apps.playbook import selectors as play_selectors


class _SizeLimitedUpload:
    """For views that take a file: the upload size limit is put in front of the body's parsers before
    anything can read the body (authentication may), so an upload over it is refused with a 413 after at
    most the limit plus a chunk has been read, and a declared length that cannot fit before any is read."""

    def initialize_request(self, request, *args, **kwargs):
        self.upload_limit = UploadLimit(settings.PLAYBOOK_UPLOAD_MAX_BYTES, request)
        request.upload_handlers.insert(0, self.upload_limit)
        return super().initialize_request(request, *args, **kwargs)

    def upload_data(self, request):
        data = request.data
        self.upload_limit.check()
        return data


class DatasetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["id", "name", "kind", "rows", "labelled_rows", "labels", "label_counts", "sha256", "warnings",
                  "text_column", "label_column", "parent", "created_at"]


@component_names
class DatasetUploadApi(_SizeLimitedUpload, APIView):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        name = serializers.CharField(required=False, allow_blank=True, default="")
        kind = serializers.ChoiceField(choices=Dataset.Kind.values, required=False, default=Dataset.Kind.BASELINE_SAMPLE)
        text_column = serializers.CharField(required=False, default="text")
        label_column = serializers.CharField(required=False, default="label")
        # No allow_null: a form field cannot be null; leaving it out (or empty) means a new dataset.
        parent = serializers.IntegerField(required=False, default=None,
                                          help_text="Add these rows to this dataset, as its new version.")

    @extend_schema(request={"multipart/form-data": InputSerializer}, responses={201: DatasetSerializer})
    def post(self, request, project_id: int):
        project = play_selectors.project_for_user(request.user, project_id)
        data = self.InputSerializer(data=self.upload_data(request))
        data.is_valid(raise_exception=True)
        if data.validated_data["parent"] is not None:
            data.validated_data["parent"] = selectors.dataset_for_user(request.user, data.validated_data["parent"])
        dataset = dataset_upload(actor=request.user, project=project, upload=data.validated_data.pop("file"),
                                 **data.validated_data)
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=DatasetSerializer(many=True))
    def get(self, request, project_id: int):
        project = play_selectors.project_for_user(request.user, project_id)
        return Response(DatasetSerializer(project.datasets.all(), many=True).data)


class SplitSetSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    dataset = serializers.IntegerField(source="dataset_id")
    seed = serializers.IntegerField()
    ratios = serializers.JSONField()
    splits = serializers.SerializerMethodField()
    leakage = serializers.JSONField()
    lineage = serializers.JSONField(help_text="In a retrain cycle: the split set this one extends (kept fixed), "
                                              "and the rows carried and new per split; empty otherwise.")

    def get_splits(self, split_set) -> dict:
        return {s.name: {"rows": s.rows, "sha256": s.sha256, "label_counts": s.label_counts}
                for s in split_set.splits.all()}


@component_names
class DatasetSealApi(APIView):
    class InputSerializer(serializers.Serializer):
        train = serializers.FloatField()
        val = serializers.FloatField()
        test = serializers.FloatField()
        seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**31 - 1)

    @extend_schema(request=InputSerializer, responses={202: JobSerializer},
                   description="Starts a seal job (split, store, leakage scan). Poll GET /api/jobs/{id}/; when it "
                               "has succeeded, GET /api/datasets/{id}/splits/ returns the sealed split set.")
    def post(self, request, dataset_id: int):
        dataset = selectors.dataset_for_user(request.user, dataset_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = curation.dataset_seal(actor=request.user, dataset=dataset, **data.validated_data)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


@component_names
class DatasetSplitsApi(APIView):
    @extend_schema(responses={200: SplitSetSerializer})
    def get(self, request, dataset_id: int):
        """The dataset version's latest sealed split set (404 until a seal job has succeeded)."""
        dataset = selectors.dataset_for_user(request.user, dataset_id)
        split_set = dataset.split_sets.order_by("-sealed_at").first()
        if split_set is None:
            raise NotFound("This dataset version has no sealed splits yet.")
        return Response(SplitSetSerializer(split_set).data)


@component_names
class LabelAuditStartApi(APIView):
    class InputSerializer(serializers.Serializer):
        size = serializers.IntegerField(required=False, default=100, min_value=10, max_value=2000)
        auditor = serializers.CharField()
        seed = serializers.IntegerField(required=False, default=0)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        size = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request, dataset_id: int):
        dataset = selectors.dataset_for_user(request.user, dataset_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        audit = curation.label_audit_start(actor=request.user, dataset=dataset, **data.validated_data)
        return Response({"id": audit.pk, "size": audit.size}, status=status.HTTP_201_CREATED)


@component_names
class LabelAuditDetailApi(APIView):
    @extend_schema(responses=dict)
    def get(self, request, audit_id: int):
        return Response(selectors.audit_summary(selectors.audit_for_user(request.user, audit_id)))


@component_names
class LabelAuditNextApi(APIView):
    class OutputSerializer(serializers.Serializer):
        item = serializers.IntegerField()
        text = serializers.CharField()
        labels = serializers.ListField(child=serializers.CharField())
        answered = serializers.IntegerField()
        size = serializers.IntegerField()

    @extend_schema(responses={200: OutputSerializer, 204: None})
    def get(self, request, audit_id: int):
        audit = selectors.audit_for_user(request.user, audit_id)
        nxt = curation.label_audit_next(actor=request.user, audit=audit)
        if nxt is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        item, text = nxt
        return Response({"item": item.pk, "text": text, "labels": audit.dataset.labels,
                         "answered": audit.items.exclude(answered_at=None).count(), "size": audit.size})


@component_names
class LabelAuditAnswerApi(APIView):
    class InputSerializer(serializers.Serializer):
        item = serializers.IntegerField()
        label = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={201: dict})
    def post(self, request, audit_id: int):
        audit = selectors.audit_for_user(request.user, audit_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        audit = curation.label_audit_answer(actor=request.user, audit=audit, item_id=data.validated_data["item"],
                                            label=data.validated_data["label"])
        return Response(selectors.audit_summary(audit), status=status.HTTP_201_CREATED)


@component_names
class LabelAuditResolveApi(APIView):
    class InputSerializer(serializers.Serializer):
        item = serializers.IntegerField()
        action = serializers.ChoiceField(choices=["accept", "keep"])
        note = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses=dict)
    def post(self, request, audit_id: int):
        audit = selectors.audit_for_user(request.user, audit_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        audit = curation.label_audit_resolve(actor=request.user, audit=audit, item_id=data.validated_data["item"],
                                             action=data.validated_data["action"], note=data.validated_data["note"])
        return Response(selectors.audit_summary(audit))


@component_names
class LabelAuditCancelApi(APIView):
    @extend_schema(request=None, responses=dict,
                   description="Cancel an audit before its first answer (data owner). 409 once an item is answered.")
    def post(self, request, audit_id: int):
        audit = selectors.audit_for_user(request.user, audit_id)
        audit = curation.label_audit_cancel(actor=request.user, audit=audit)
        return Response(selectors.audit_summary(audit))


@component_names
class LabelAuditReassignApi(APIView):
    class InputSerializer(serializers.Serializer):
        auditor = serializers.CharField(help_text="Username of a project member other than the uploader.")

    @extend_schema(request=InputSerializer, responses=dict,
                   description="Hand an audit to another member before its first answer (data owner); the same "
                               "rules as starting one. 409 once an item is answered.")
    def post(self, request, audit_id: int):
        audit = selectors.audit_for_user(request.user, audit_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        audit = curation.label_audit_reassign(actor=request.user, audit=audit, auditor=data.validated_data["auditor"])
        return Response(selectors.audit_summary(audit))


@component_names
class ProductionSampleApi(_SizeLimitedUpload, APIView):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        text_column = serializers.CharField(required=False, default="text")
        label_column = serializers.CharField(required=False, default="label")

    @extend_schema(request={"multipart/form-data": InputSerializer}, responses={202: dict},
                   description="Stores the sample and starts a compare_production job; its result holds the "
                               "report id and the statistics when it has succeeded.")
    def post(self, request, dataset_id: int):
        dataset = selectors.dataset_for_user(request.user, dataset_id)
        data = self.InputSerializer(data=self.upload_data(request))
        data.is_valid(raise_exception=True)
        production, job = curation.production_sample_compare(
            actor=request.user, dataset=dataset, upload=data.validated_data["file"],
            text_column=data.validated_data["text_column"], label_column=data.validated_data["label_column"])
        return Response({"production_dataset": DatasetSerializer(production).data, "job": JobSerializer(job).data},
                        status=status.HTTP_202_ACCEPTED)

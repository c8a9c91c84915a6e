from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.accounts import apis as accounts
from apps.accounts.apis import TokenObtainApi
from apps.audit.apis import AuditListApi
from apps.core.security import csp_relaxed
from apps.datasets import apis as datasets
from apps.datasets.apis import DatasetUploadApi
from apps.evaluation import apis as evaluation
from apps.monitoring import apis as monitoring
from apps.notifications import apis as notifications
from apps.playbook import apis as playbook
from apps.training import apis as training

app_name = "api"

urlpatterns = [
    path("auth/token/", TokenObtainApi.as_view(), name="token"),
    path("tokens/", accounts.ApiTokenListCreateApi.as_view(), name="tokens"),
    path("tokens/<int:token_id>/", accounts.ApiTokenDetailApi.as_view(), name="token-detail"),
    path("projects/", playbook.ProjectListCreateApi.as_view(), name="projects"),
    path("projects/<int:project_id>/", playbook.ProjectDetailApi.as_view(), name="project"),
    path("projects/<int:project_id>/members/", playbook.ProjectMemberAddApi.as_view(), name="project-members"),
    path("projects/<int:project_id>/solo/", playbook.ProjectSoloApi.as_view(), name="project-solo"),
    path("projects/<int:project_id>/signoff-approvals/", playbook.ProjectSignoffApprovalsApi.as_view(),
         name="project-signoff-approvals"),
    path("projects/<int:project_id>/close/", playbook.ProjectCloseApi.as_view(), name="project-close"),
    path("projects/<int:project_id>/retrain/", playbook.ProjectRetrainApi.as_view(), name="project-retrain"),
    path("projects/<int:project_id>/plays/", playbook.ProjectPlayListApi.as_view(), name="project-plays"),
    path("projects/<int:project_id>/datasets/", DatasetUploadApi.as_view(), name="project-datasets"),
    path("projects/<int:project_id>/candidates/", training.CandidateListCreateApi.as_view(), name="project-candidates"),
    path("datasets/<int:dataset_id>/seal/", datasets.DatasetSealApi.as_view(), name="dataset-seal"),
    path("datasets/<int:dataset_id>/splits/", datasets.DatasetSplitsApi.as_view(), name="dataset-splits"),
    path("datasets/<int:dataset_id>/audit/", datasets.LabelAuditStartApi.as_view(), name="dataset-audit"),
    path("datasets/<int:dataset_id>/production-sample/", datasets.ProductionSampleApi.as_view(),
         name="dataset-production-sample"),
    path("audits/<int:audit_id>/", datasets.LabelAuditDetailApi.as_view(), name="audit-detail"),
    path("audits/<int:audit_id>/next/", datasets.LabelAuditNextApi.as_view(), name="audit-next"),
    path("audits/<int:audit_id>/answers/", datasets.LabelAuditAnswerApi.as_view(), name="audit-answers"),
    path("audits/<int:audit_id>/resolutions/", datasets.LabelAuditResolveApi.as_view(), name="audit-resolutions"),
    path("audits/<int:audit_id>/cancel/", datasets.LabelAuditCancelApi.as_view(), name="audit-cancel"),
    path("audits/<int:audit_id>/reassign/", datasets.LabelAuditReassignApi.as_view(), name="audit-reassign"),
    path("plays/<int:play_id>/", playbook.PlayDetailApi.as_view(), name="play"),
    path("plays/<int:play_id>/submit/", playbook.PlaySubmitApi.as_view(), name="play-submit"),
    path("plays/<int:play_id>/decision/", playbook.GateDecisionApi.as_view(), name="play-decision"),
    path("evaluations/<int:evaluation_id>/", evaluation.EvaluationDetailApi.as_view(), name="evaluation"),
    path("evaluations/<int:evaluation_id>/predictions/", evaluation.EvaluationPredictionsApi.as_view(),
         name="evaluation-predictions"),
    path("evaluations/<int:evaluation_id>/record.<str:fmt>", evaluation.EvaluationRecordApi.as_view(),
         name="evaluation-record"),
    path("packages/<int:package_id>/", monitoring.PackageDetailApi.as_view(), name="package"),
    path("packages/<int:package_id>/download/", monitoring.PackageDownloadApi.as_view(), name="package-download"),
    path("deployments/", monitoring.DeploymentListCreateApi.as_view(), name="deployments"),
    path("deployments/<int:deployment_id>/", monitoring.DeploymentDetailApi.as_view(), name="deployment"),
    path("deployments/<int:deployment_id>/promote/", monitoring.DeploymentPromoteApi.as_view(),
         name="deployment-promote"),
    path("deployments/<int:deployment_id>/rollback/", monitoring.DeploymentRollbackApi.as_view(),
         name="deployment-rollback"),
    path("deployments/<int:deployment_id>/predict/", monitoring.PredictApi.as_view(), name="deployment-predict"),
    path("deployments/<int:deployment_id>/predictions/", monitoring.PredictionIngestApi.as_view(),
         name="deployment-predictions"),
    path("deployments/<int:deployment_id>/feedback/", monitoring.FeedbackIngestApi.as_view(),
         name="deployment-feedback"),
    path("deployments/<int:deployment_id>/windows/", monitoring.DeploymentWindowsApi.as_view(),
         name="deployment-windows"),
    path("deployments/<int:deployment_id>/production-data/", monitoring.DeploymentProductionDataApi.as_view(),
         name="deployment-production-data"),
    path("alerts/", monitoring.AlertListApi.as_view(), name="alerts"),
    path("jobs/", playbook.JobCreateApi.as_view(), name="jobs"),
    path("jobs/<int:job_id>/", playbook.JobDetailApi.as_view(), name="job"),
    path("jobs/<int:job_id>/cancel/", playbook.JobCancelApi.as_view(), name="job-cancel"),
    path("notifications/", notifications.NotificationListApi.as_view(), name="notifications"),
    path("notifications/<int:notification_id>/read/", notifications.NotificationReadApi.as_view(),
         name="notification-read"),
    path("notifications/read-all/", notifications.NotificationReadAllApi.as_view(), name="notifications-read-all"),
    path("notifications/preferences/", notifications.NotificationPreferencesApi.as_view(),
         name="notification-preferences"),
    path("audit/", AuditListApi.as_view(), name="audit"),
    path("portfolio/", playbook.PortfolioApi.as_view(), name="portfolio"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (no inline script); its inline <style>
    # is allowed on this page only.
    path("docs/", csp_relaxed(SpectacularSwaggerSplitView.as_view(url_name="api:schema"),
                              style_src=["'self'", "'unsafe-inline'"]), name="docs"),
]

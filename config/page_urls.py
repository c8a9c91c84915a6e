"""The pages' routes, under one namespace ("playbook"): the core's pages and each play's own actions.

This module composes the apps (it sits with the settings, above every app), so the core imports none of
the play apps.
"""
from django.urls import path

from apps.datasets import views as data_views
from apps.evaluation import views as evaluation_views
from apps.monitoring import views as monitoring_views
from apps.playbook import views
from apps.training import views as training_views

app_name = "playbook"

urlpatterns = [
    path("", views.my_work, name="my-work"),
    path("projects/", views.project_list, name="projects"),
    path("projects/<int:project_id>/", views.project_detail, name="project"),
    path("projects/<int:project_id>/members/", views.project_member_add, name="project-member-add"),
    path("projects/<int:project_id>/solo/", views.project_solo, name="project-solo"),
    path("projects/<int:project_id>/signoff-approvals/", views.project_signoff_approvals,
         name="project-signoff-approvals"),
    path("plays/<int:play_id>/", views.play_detail, name="play"),
    path("plays/<int:play_id>/submit/", views.play_submit, name="play-submit"),
    path("plays/<int:play_id>/decide/", views.play_decide, name="play-decide"),
    path("projects/<int:project_id>/close/", views.project_close, name="project-close"),
    path("projects/<int:project_id>/retrain/", views.project_retrain, name="project-retrain"),
    path("plays/<int:play_id>/datasets/", data_views.play_dataset_upload, name="play-dataset-upload"),
    path("plays/<int:play_id>/jobs/", views.job_start, name="play-job-start"),
    path("plays/<int:play_id>/candidates/", training_views.candidate_add, name="play-candidate-add"),
    path("plays/<int:play_id>/seal/", data_views.play3_seal, name="play3-seal"),
    path("plays/<int:play_id>/audit/", data_views.play3_audit, name="play3-audit"),
    path("plays/<int:play_id>/audits/<int:audit_id>/resolve/", data_views.play3_resolve, name="play3-resolve"),
    path("plays/<int:play_id>/production/", data_views.play3_production, name="play3-production"),
    path("evaluations/<int:evaluation_id>/record.<str:fmt>", evaluation_views.evaluation_record,
         name="evaluation-record"),
    path("evaluations/<int:evaluation_id>/predictions.jsonl", evaluation_views.evaluation_predictions,
         name="evaluation-predictions"),
    path("plays/<int:play_id>/thresholds/", monitoring_views.play6_thresholds, name="play6-thresholds"),
    path("packages/<int:package_id>/deploy/", monitoring_views.package_deploy, name="package-deploy"),
    path("packages/<int:package_id>/download/", monitoring_views.package_download, name="package-download"),
    path("deployments/<int:deployment_id>/monitoring/", monitoring_views.deployment_monitoring,
         name="deployment-monitoring"),
    path("deployments/<int:deployment_id>/production-data/", monitoring_views.deployment_production_data,
         name="deployment-production-data"),
    path("deployments/<int:deployment_id>/promote/", monitoring_views.deployment_promote, name="deployment-promote"),
    path("deployments/<int:deployment_id>/rollback/", monitoring_views.deployment_rollback,
         name="deployment-rollback"),
    path("jobs/<int:job_id>/progress/", views.job_progress, name="job-progress"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("portfolio/", views.portfolio, name="portfolio"),
]

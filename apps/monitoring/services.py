"""Every state change of Play 6's packages and deployments. A package is deployed as the challenger by a
model owner; only a sign-off owner promotes it to production or rolls production back to the deployment it
replaced. Nothing is promoted automatically; each change is one action, audited, with its history line."""
from django.db import transaction

from apps.audit.services import audit_chain_lock, audit_record
from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.jobs.services import SYSTEM, WORKER
from apps.monitoring.models import Deployment, Package, StageChange
from apps.playbook import policy
from apps.playbook.models import Project
from apps.playbook.policy import Action


def _require(actor, action: Action, project) -> None:
    verdict = policy.check(actor, action, project)
    if not verdict:
        raise NotAllowed(verdict.reason)


def _active(project) -> None:
    if project.status != Project.Status.ACTIVE:
        raise Conflict(f"This project is closed ({project.get_status_display().lower()}).")


def _lock_project(project_id: int) -> Project:
    """Inside the caller's transaction: the audit chain's lock first (see audit_chain_lock: every change
    here appends events), then the project's row, which serialises the changes of one project's stages."""
    audit_chain_lock()
    return Project.objects.select_for_update().get(pk=project_id)


def _take_production(*, deployment: Deployment, actor, reason: str, decision=None) -> None:
    """Inside the caller's transaction, the project locked: ``deployment`` becomes production; the one it
    replaces (if any) retires and is remembered, so a rollback returns to it."""
    current = Deployment.objects.select_for_update().filter(project_id=deployment.project_id,
                                                            stage=Deployment.Stage.PRODUCTION).first()
    if current is not None:
        _change(deployment=current, actor=actor, action="retire", to_stage=Deployment.Stage.RETIRED,
                reason=f"Replaced by deployment #{deployment.pk}: {reason}", decision=decision)
        deployment.replaced = current
    _change(deployment=deployment, actor=actor, action="promote", to_stage=Deployment.Stage.PRODUCTION,
            reason=reason, decision=decision)


def package_record(*, job, facts: dict) -> Package:
    """Worker side, inside the transaction that marks the package job succeeded."""
    package = Package.objects.create(project=job.project, play=job.play, job=job, **facts)
    audit_record(actor=WORKER, action="package.built", project=job.project, obj=package,
                 after={"job": job.pk, "sha256": package.sha256, "shipped": package.shipped,
                        "model": package.model_name, "evaluation": package.evaluation_id,
                        "parity": {k: v.get("ok") for k, v in (package.parity.get("variants") or {}).items()}})
    return package


def _change(*, deployment: Deployment, actor, action: str, to_stage: str, reason: str, decision=None) -> None:
    """One stage change: the deployment, its history line and the audit event. ``actor`` None is the
    system acting on ``decision`` (a Play 5 approval)."""
    before = deployment.stage if deployment.pk else ""
    deployment.stage = to_stage
    deployment.save()
    StageChange.objects.create(deployment=deployment, from_stage=before, to_stage=to_stage, action=action,
                               reason=reason, actor=actor, decision=decision)
    authority = {"decision": decision.pk, "approved_by": decision.decided_by.get_username()} if decision else {}
    audit_record(actor=actor or SYSTEM, action=f"deployment.{action}", project=deployment.project, obj=deployment,
                 before={"stage": before} if before else None,
                 after={"stage": to_stage, "package": deployment.package_id, "reason": reason, **authority})


def deployment_create(*, actor, package: Package, reason: str = "") -> Deployment:
    """A model owner deploys a package as the challenger: it serves and is monitored beside production,
    but becomes production only when a sign-off owner promotes it."""
    project = package.project
    _require(actor, Action.DEPLOYMENT_CREATE, project)
    _active(project)
    with transaction.atomic(durable=True):
        _lock_project(project.pk)
        if Deployment.objects.filter(package=package).exclude(stage=Deployment.Stage.RETIRED).exists():
            raise Conflict(f"Package #{package.pk} is already deployed.")
        deployment = Deployment(project=project, package=package, created_by=actor)
        _change(deployment=deployment, actor=actor, action="deploy", to_stage=Deployment.Stage.CHALLENGER,
                reason=(reason or "").strip())
    return deployment


def _approval_of(package: Package):
    """The Play 5 decision that handed this package's model on: the newest approval (or choice to ship the
    baseline) of its cycle's Play 5, decided by a sign-off owner."""
    from apps.playbook.models import GateDecision

    return (GateDecision.objects.filter(play__cycle=package.play.cycle, play__number=5,
                                        decision__in=("approve", "ship_baseline"), play__status="approved")
            .select_related("decided_by").order_by("-created_at").first())


def deployment_promote_approved(*, package: Package) -> Deployment | None:
    """Worker side, inside the package job's success transaction. In a retrain cycle (a model is already
    in production) Play 5 compared the challenger with production and a sign-off owner approved it: that
    approval is the promotion. The package is deployed and promoted on its authority (the history names the
    decision and who took it); the deployment it replaces retires and stays one rollback away. In the first
    cycle nothing is in production yet, and the model owner deploys by hand."""
    project = _lock_project(package.project_id)
    if project.status != Project.Status.ACTIVE:
        return None
    current = Deployment.objects.filter(project=project, stage=Deployment.Stage.PRODUCTION).first()
    decision = _approval_of(package)
    if current is None or decision is None or current.package.play.cycle_id == package.play.cycle_id:
        return None
    if not policy.check(decision.decided_by, Action.DEPLOYMENT_PROMOTE, project):
        return None  # the approver no longer holds the sign-off role: a person promotes by hand
    reason = decision.reason.strip() or decision.get_decision_display()
    deployment = Deployment(project=project, package=package, created_by=None)
    _change(deployment=deployment, actor=None, action="deploy", to_stage=Deployment.Stage.CHALLENGER,
            reason=reason, decision=decision)
    _take_production(deployment=deployment, actor=None, reason=reason, decision=decision)
    return deployment


def deployment_promote(*, actor, deployment: Deployment, reason: str) -> Deployment:
    """A sign-off owner makes a challenger production; the deployment it replaces retires and stays one
    click away (rollback)."""
    _require(actor, Action.DEPLOYMENT_PROMOTE, deployment.project)
    _active(deployment.project)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why it is promoted: the reason stays in the deployment's history.")
    with transaction.atomic(durable=True):
        _lock_project(deployment.project_id)
        deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
        if deployment.stage != Deployment.Stage.CHALLENGER:
            raise Conflict(f"Deployment #{deployment.pk} is {deployment.stage}: only a challenger is promoted.")
        _take_production(deployment=deployment, actor=actor, reason=reason)
    return deployment


def deployment_rollback(*, actor, deployment: Deployment, reason: str) -> Deployment:
    """A sign-off owner takes production back to the deployment it replaced; returns that deployment."""
    _require(actor, Action.DEPLOYMENT_PROMOTE, deployment.project)
    _active(deployment.project)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why production is rolled back: the reason stays in the history.")
    with transaction.atomic(durable=True):
        _lock_project(deployment.project_id)
        deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
        if deployment.stage != Deployment.Stage.PRODUCTION:
            raise Conflict(f"Deployment #{deployment.pk} is {deployment.stage}: only production is rolled back.")
        previous = deployment.replaced
        if previous is None:
            raise Conflict("Nothing to roll back to: this deployment replaced none.")
        previous = Deployment.objects.select_for_update().get(pk=previous.pk)
        _change(deployment=deployment, actor=actor, action="rollback", to_stage=Deployment.Stage.RETIRED,
                reason=reason)
        _change(deployment=previous, actor=actor, action="restore", to_stage=Deployment.Stage.PRODUCTION,
                reason=f"Rolled back from deployment #{deployment.pk}: {reason}")
    return previous

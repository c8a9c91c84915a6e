"""Reads for pages and the API: fetch-and-authorize helpers and the lists the pages show.

A project a user may not see is reported exactly like one that does not exist (404).
"""
from dataclasses import dataclass

from django.db.models import Q

from apps.accounts.models import Membership, Role
from apps.core.request_context import memoized
from apps.core.errors import NotFound
from apps.playbook import policy
from apps.core import registry
from apps.jobs.models import Job
from apps.playbook.models import Cycle, GateDecision, Play, Project
from apps.playbook.policy import Action


def projects_for_user(user):
    qs = Project.objects.all() if user.is_staff else Project.objects.filter(memberships__user=user).distinct()
    return qs.select_related("created_by").order_by("-created_at")


def project_for_user(user, project_id) -> Project:
    try:
        project = Project.objects.get(pk=int(project_id))
    except (Project.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such project.") from None
    if not policy.can_view(user, project):
        raise NotFound("No such project.")
    return project


def play_for_user(user, play_id) -> Play:
    try:
        play = Play.objects.select_related("cycle__project", "assignee", "submitted_by").get(pk=int(play_id))
    except (Play.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such play.") from None
    if not policy.can_view(user, play.cycle.project):
        raise NotFound("No such play.")
    return play


def job_for_user(user, job_id) -> Job:
    from apps.jobs.selectors import job_for_user as fetch

    return fetch(user, job_id, can_view=policy.can_view)


def current_cycle(project: Project):
    return project.cycles.order_by("-number").first()


def cycle_plays(cycle) -> list[Play]:
    return list(cycle.plays.select_related("assignee", "submitted_by").order_by("number")) if cycle else []


def members_by_role(project: Project) -> dict[str, list]:
    grouped: dict[str, list] = {role: [] for role in Role.values}
    for m in Membership.objects.filter(project=project).select_related("user").order_by("created_at"):
        grouped[m.role].append(m.user)
    return grouped


@dataclass(frozen=True)
class PlayCapabilities:
    can_work: bool
    can_submit: bool
    can_decide: bool
    needs_hat_switch: bool
    decide_reason: str
    decisions: dict  # decision -> "" if available, else why not


def play_capabilities(user, play: Play) -> PlayCapabilities:
    """What `user` may do on `play` now: role (policy) and state together, for showing buttons."""
    project = play.cycle.project
    active = project.status == Project.Status.ACTIVE
    work = bool(policy.check(user, Action.PLAY_WORK, project, play=play))
    can_work = work and active and play.status in (Play.Status.READY, Play.Status.IN_PROGRESS, Play.Status.REJECTED)
    can_submit = work and active and play.status == Play.Status.IN_PROGRESS
    verdict = policy.check(user, Action.GATE_DECIDE, project, play=play)
    submitted = play.status == Play.Status.SUBMITTED
    role_ok = verdict.allowed or verdict.needs_hat_switch
    return PlayCapabilities(
        can_work=can_work,
        can_submit=can_submit,
        can_decide=submitted and role_ok,
        needs_hat_switch=submitted and verdict.needs_hat_switch,
        decide_reason="" if verdict.allowed else verdict.reason,
        decisions=registry.play_module(play.number).decisions(play) if submitted and role_ok else {},
    )


def submission_approvals(play: Play, module) -> tuple[int, list[str]]:
    """How many distinct sign-off owners must approve the play's current submission (1 unless the play asks
    for more, and 1 for a play that is not waiting for a decision), and who has approved it so far (their
    usernames, oldest first; only read when more than one is needed)."""
    needed = module.approvals_needed(play, "approve") if play.status == Play.Status.SUBMITTED else 1
    if needed <= 1:
        return needed, []
    given = (play.decisions.filter(decision="approve", created_at__gte=play.submitted_at)
             .order_by("created_at", "pk").values_list("decided_by__username", flat=True))
    return needed, list(given)


def my_work(user) -> dict:
    """Plays assigned to me, gates waiting for my decision, my unfinished jobs."""
    assigned = (
        Play.objects.filter(assignee=user, cycle__project__status=Project.Status.ACTIVE,
                            status__in=[Play.Status.READY, Play.Status.IN_PROGRESS, Play.Status.REJECTED])
        .select_related("cycle__project").order_by("cycle__project__name", "number")
    )
    signoff_projects = Membership.objects.filter(user=user, role=Role.SIGNOFF_OWNER).values("project_id")
    gates = (
        Play.objects.filter(status=Play.Status.SUBMITTED, cycle__project_id__in=signoff_projects)
        .filter(~Q(submitted_by=user) | Q(cycle__project__solo_mode=True)
                | Q(number__in=[n for n, m in registry.play_modules().items() if m.submitter_may_decide]))
        .select_related("cycle__project", "submitted_by").order_by("submitted_at")
    )
    jobs = (Job.objects.filter(created_by=user, status__in=Job.ACTIVE)
            .select_related("project", "play").order_by("-created_at"))
    extra = {}
    for module in registry.play_modules().values():
        extra.update(module.my_work(user))
    return {"assigned": list(assigned), "gates": list(gates), "jobs": list(jobs), **extra}


def cycle_inputs(cycle: Cycle) -> dict[int, object]:
    """What the cycle's plays handed on: {play number: that play's Outputs}, from the newest decision that
    handed it on (an approval, or shipping the baseline) of each play that stands approved in this cycle,
    else inherited from the newest earlier cycle that has one (a retrain cycle inherits Plays 1 and 2). A
    play sent back by a later gate no longer hands anything on; plays not yet approved anywhere are absent.
    A read-only request reads them once (apps.core.request_context.memoized)."""
    return dict(memoized(("cycle_inputs", cycle.pk), lambda: _cycle_inputs(cycle)))


def _cycle_inputs(cycle: Cycle) -> dict[int, object]:
    found: dict[int, object] = {}
    decisions = (GateDecision.objects.filter(play__cycle__project_id=cycle.project_id, play__cycle__number__lte=cycle.number,
                                             play__status=Play.Status.APPROVED)
                 .exclude(outputs={})
                 .select_related("play__cycle").order_by("-play__cycle__number", "-created_at"))
    for decision in decisions:
        number = decision.play.number
        if number in found:
            continue
        found[number] = registry.play_module(number).load_outputs(decision.outputs["data"], decision.outputs["version"])
    return found


def production_model(project):
    """The model the project serves in production (apps.playbook.plays.ProductionModel), as the play that
    deploys models reports it; None before anything is in production."""
    for module in registry.play_modules().values():
        found = module.production_model(project)
        if found is not None:
            return found
    return None

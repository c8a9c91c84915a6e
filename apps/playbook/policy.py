"""Who may do what: one table from action to roles, plus the four-eyes rule.

Pages use it to decide which buttons to show, the API and the services use it to refuse. Nothing else
in the code base checks roles.
"""
from dataclasses import dataclass
from enum import StrEnum

from apps.accounts.models import Membership, Role
from apps.core.request_context import memoized

STAFF = "staff"  # pseudo-role: Django staff users are Playbook's admins
PLAY_OWNER = "play_owner"  # pseudo-role: the roles that own the play in question (catalogue.working_roles)


class Action(StrEnum):
    PROJECT_VIEW = "project.view"
    PROJECT_MANAGE_MEMBERS = "project.manage_members"
    PROJECT_SET_SOLO = "project.set_solo"
    PROJECT_SET_APPROVALS = "project.set_approvals"  # how many sign-off owners a production approval needs
    DATASET_UPLOAD = "dataset.upload"
    CANDIDATE_REGISTER = "candidate.register"
    DATA_CURATE = "dataset.curate"  # seal splits, start label audits, resolve disagreements, compare with production
    PLAY_WORK = "play.work"  # edit the deliverable, start jobs
    PLAY_SUBMIT = "play.submit"
    GATE_DECIDE = "gate.decide"
    JOB_CANCEL = "job.cancel"
    AUDIT_VIEW = "audit.view"
    PROJECT_CLOSE = "project.close"  # ship, ship the baseline, or abandon
    CYCLE_RETRAIN = "cycle.retrain"  # open a retrain cycle by hand
    EVALUATION_PREDICTIONS = "evaluation.predictions"  # download the test rows' per-example predictions
    DEPLOYMENT_CREATE = "deployment.create"  # deploy a package as the challenger
    DEPLOYMENT_PROMOTE = "deployment.promote"  # promote to production, roll production back
    TRAFFIC_SEND = "traffic.send"  # call the predict endpoint, log predictions and feedback as a person
    PRODUCTION_DATA_ADD = "production_data.add"  # labelled production predictions -> a new dataset version


ALL_ROLES = frozenset(Role.values)

POLICY: dict[Action, frozenset[str]] = {
    Action.PROJECT_VIEW: ALL_ROLES | {STAFF},
    Action.PROJECT_MANAGE_MEMBERS: frozenset({Role.MODEL_OWNER, STAFF}),
    Action.PROJECT_SET_SOLO: frozenset({STAFF}),
    Action.PROJECT_SET_APPROVALS: frozenset({STAFF}),
    Action.DATASET_UPLOAD: frozenset({Role.MODEL_OWNER, Role.DATA_OWNER}),
    Action.CANDIDATE_REGISTER: frozenset({Role.MODEL_OWNER}),
    Action.DATA_CURATE: frozenset({Role.DATA_OWNER}),
    Action.PLAY_WORK: frozenset({PLAY_OWNER}),
    Action.PLAY_SUBMIT: frozenset({PLAY_OWNER}),
    Action.JOB_CANCEL: frozenset({PLAY_OWNER}),
    Action.GATE_DECIDE: frozenset({Role.SIGNOFF_OWNER}),
    Action.AUDIT_VIEW: frozenset({STAFF}),
    Action.PROJECT_CLOSE: frozenset({Role.MODEL_OWNER, STAFF}),
    Action.CYCLE_RETRAIN: frozenset({Role.MODEL_OWNER, Role.DATA_OWNER}),
    Action.EVALUATION_PREDICTIONS: frozenset({Role.SIGNOFF_OWNER, STAFF}),
    Action.DEPLOYMENT_CREATE: frozenset({Role.MODEL_OWNER}),
    Action.DEPLOYMENT_PROMOTE: frozenset({Role.SIGNOFF_OWNER}),
    Action.TRAFFIC_SEND: frozenset({Role.MODEL_OWNER, Role.DATA_OWNER}),
    Action.PRODUCTION_DATA_ADD: frozenset({Role.DATA_OWNER}),
}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""
    # Four-eyes in solo mode: allowed only once the actor confirms they switch hats to sign-off owner.
    needs_hat_switch: bool = False

    def __bool__(self) -> bool:
        return self.allowed


def roles_of(user, project) -> frozenset[str]:
    """The actor's roles on the project, with STAFF added for admins. Read fresh for every action: a cached
    copy on the user object would go stale the moment a role is granted or revoked. (A read-only request,
    which grants and revokes nothing, reads them once: apps.core.request_context.memoized.)"""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()

    def read() -> frozenset[str]:
        roles = set(Membership.objects.filter(project=project, user=user).values_list("role", flat=True))
        if user.is_staff:
            roles.add(STAFF)
        return frozenset(roles)

    return memoized(("roles_of", user.pk, project.pk), read)


def can_view(user, project) -> bool:
    return bool(roles_of(user, project) & POLICY[Action.PROJECT_VIEW])


def check(user, action: Action, project, *, play=None, hat_switch: bool = False) -> Verdict:
    """May `user` perform `action` on `project` (and `play`)? Roles first, then the four-eyes rule."""
    held = roles_of(user, project)
    allowed_roles = set(POLICY[action])
    if PLAY_OWNER in allowed_roles:
        allowed_roles.discard(PLAY_OWNER)
        if play is not None:
            allowed_roles.update(play.definition.working_roles)
    if not held & allowed_roles:
        return Verdict(False, f"Only {_describe(allowed_roles)} may do this.")
    if action == Action.GATE_DECIDE and play is not None:
        return _four_eyes(user, project, play, hat_switch)
    return Verdict(True)


def check_job_cancel(user, job) -> Verdict:
    """May `user` cancel `job`? Whoever owns its play; for a project-level job (no play), the project's
    data curators."""
    if job.play_id:
        return check(user, Action.JOB_CANCEL, job.project, play=job.play)
    return check(user, Action.DATA_CURATE, job.project)


def _describe(roles: set[str]) -> str:
    labels = dict(Role.choices)
    names = [f"the project's {labels[r].lower()}" for r in sorted(roles) if r in labels]
    if STAFF in roles:
        names.append("an admin")
    return " or ".join(names) or "nobody"


def _four_eyes(user, project, play, hat_switch: bool) -> Verdict:
    """Nobody decides a gate on their own work (what counts as their work is the play module's rule:
    having submitted the play, or for Play 5 having trained the candidate); in solo mode, only after
    switching hats."""
    from apps.core import registry

    conflict = registry.play_module(play.number).conflict_of_interest(play, user)
    if not conflict:
        return Verdict(True)
    if not project.solo_mode:
        return Verdict(False, f"{conflict} Only another sign-off owner may decide this gate.")
    if not hat_switch:
        return Verdict(
            False,
            f"{conflict} In solo mode you may decide it only after confirming that you are switching hats to "
            "sign-off owner.",
            needs_hat_switch=True,
        )
    return Verdict(True)

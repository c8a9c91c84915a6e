"""Every state change of projects, memberships, plays and gates.

Each service checks the actor's permission through apps.playbook.policy, checks the current state,
writes inside one transaction and appends its audit event in that same transaction.
"""
from dataclasses import asdict

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Membership, Role
from apps.audit.services import audit_chain_lock, audit_record
from apps.core.errors import Conflict, FieldErrors, NotAllowed, ValidationFailed
from apps.playbook import policy
from apps.core import registry
from apps.jobs.models import Job
from apps.jobs.services import SYSTEM, job_enqueue, job_request_cancel, jobs_cancel_unfinished
from apps.playbook.catalogue import PLAYS
from apps.playbook.models import Cycle, GateDecision, Play, Project
from apps.playbook.policy import Action

User = get_user_model()

WORKABLE = (Play.Status.READY, Play.Status.IN_PROGRESS, Play.Status.REJECTED)


def _require(actor, action: Action, project, *, play=None, hat_switch: bool = False) -> None:
    verdict = policy.check(actor, action, project, play=play, hat_switch=hat_switch)
    if not verdict:
        raise NotAllowed(verdict.reason, {"needs_hat_switch": verdict.needs_hat_switch})


def _locked_play(play: Play) -> Play:
    """Re-read the play under a row lock: concurrent requests on one play queue up behind each other. The
    audit chain's lock comes first (see audit_chain_lock): every caller appends an event after this."""
    audit_chain_lock()
    return Play.objects.select_for_update().select_related("cycle__project").get(pk=play.pk)


def _lock_project(project: Project) -> Project:
    """Re-read the project under a row lock, the audit chain's lock taken first. Every service here appends
    an event after locking, and the audit chain's lock must come before any row lock (see
    audit_chain_lock): a service holding the project's row while it waits for the chain deadlocks with one
    holding the chain while it locks that row (a play's lock joins its project) or inserts an event that
    references it."""
    audit_chain_lock()
    return Project.objects.select_for_update().get(pk=project.pk)


def _bookkeeping_kinds() -> list[str]:
    return [name for name, (_, kind) in registry.job_kinds().items() if kind.bookkeeping]


def _working_jobs():
    """Unfinished jobs that are part of the work (not the bookkeeping of a decision already taken)."""
    return Job.objects.filter(status__in=Job.ACTIVE).exclude(kind__in=_bookkeeping_kinds())


def _play_state(play: Play) -> dict:
    return {"status": play.status, "assignee": play.assignee_id}


# --- projects and members ---------------------------------------------------------------------------


def project_create(*, actor, name: str, request: str) -> Project:
    """Create a project and its first cycle; the creator becomes its model owner; Play 1 is ready
    because its trigger ("request received") holds."""
    if not getattr(actor, "is_authenticated", False):
        raise NotAllowed("Sign in to create a project.")
    name, request = (name or "").strip(), (request or "").strip()
    errors = FieldErrors()
    if not name:
        errors.add("name", "Give the project a name.")
    elif len(name) > 200:
        errors.add("name", f"Shorten the project's name to 200 characters (it has {len(name)}).")
    if not request:
        errors.add("request", "Write the request: what did the stakeholder ask for?")
    errors.raise_if_any()
    with transaction.atomic(durable=True):
        project = Project.objects.create(name=name, request=request, created_by=actor)
        audit_record(actor=actor, action="project.created", project=project, obj=project,
                     after={"name": name, "request": request})
        Membership.objects.create(project=project, user=actor, role=Role.MODEL_OWNER)
        audit_record(actor=actor, action="member.role_granted", project=project, object_type="user",
                     object_id=str(actor.pk), after={"user": actor.get_username(), "role": Role.MODEL_OWNER})
        _cycle_open(actor=actor, project=project, reason="Request received")
    return project


def _cycle_open(*, actor, project: Project, reason: str, trigger: dict | None = None,
                start_at: int = 1) -> Cycle:
    """Inside the caller's transaction: a new cycle with its six plays; those before ``start_at`` are
    inherited from earlier cycles (carried over: their outputs are read through cycle_inputs)."""
    number = (project.cycles.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    cycle = Cycle.objects.create(project=project, number=number, started_reason=reason,
                                 trigger=trigger or {"kind": "request"})
    for definition in PLAYS.values():
        status = Play.Status.INHERITED if definition.number < start_at else Play.Status.LOCKED
        Play.objects.create(cycle=cycle, number=definition.number, owner_role=definition.owner_role, status=status)
    audit_record(actor=actor, action="cycle.opened", project=project, obj=cycle,
                 after={"number": number, "reason": reason, "trigger": cycle.trigger,
                        "inherited_plays": list(range(1, start_at))})
    first = cycle.plays.get(number=start_at)
    _play_unlock(actor=actor, play=first)
    registry.play_module(start_at).on_unlock(first)
    return cycle


def _default_assignee(play: Play):
    membership = (
        Membership.objects.filter(project_id=play.cycle.project_id, role=play.owner_role)
        .order_by("created_at", "id").select_related("user").first()
    )
    return membership.user if membership else None


def _play_unlock(*, actor, play: Play) -> None:
    before = _play_state(play)
    play.status = Play.Status.READY
    play.assignee = play.assignee or _default_assignee(play)
    play.save(update_fields=["status", "assignee", "updated_at"])
    audit_record(actor=actor, action="play.ready", project=play.cycle.project, obj=play,
                 before=before, after=_play_state(play))


def member_add(*, actor, project: Project, username: str, role: str) -> Membership:
    """Grant `role` on `project` to the user named `username`. Staff and model owners manage members."""
    _require(actor, Action.PROJECT_MANAGE_MEMBERS, project)
    if role not in Role.values:
        raise ValidationFailed(f"Choose a role: {', '.join(label.lower() for label in Role.labels)}.")
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationFailed(f"No active user named {username!r}.")
    with transaction.atomic(durable=True):
        audit_chain_lock()  # before any row lock: see _lock_project
        held = set(Membership.objects.select_for_update().filter(project=project, user=user)
                   .values_list("role", flat=True))
        if role in held:
            raise Conflict(f"{username} already holds the {role.replace('_', ' ')} role on this project.")
        project = Project.objects.select_for_update().get(pk=project.pk)
        if not project.solo_mode and held | {role} == set(Role.values):
            raise ValidationFailed(
                "One person may hold every role only in solo mode, which an admin sets on the project."
            )
        membership = Membership.objects.create(project=project, user=user, role=role)
        audit_record(actor=actor, action="member.role_granted", project=project, object_type="user",
                     object_id=str(user.pk), before={"roles": sorted(held)},
                     after={"user": username, "role": role, "roles": sorted(held | {role})})
        # A play waiting for an owner of this role gets its first one.
        for play in Play.objects.select_for_update().filter(
            cycle__project=project, owner_role=role, assignee__isnull=True,
            status__in=[Play.Status.READY, Play.Status.IN_PROGRESS, Play.Status.REJECTED],
        ):
            play.assignee = user
            play.save(update_fields=["assignee", "updated_at"])
            audit_record(actor=actor, action="play.assigned", project=project, obj=play,
                         before={"assignee": None}, after={"assignee": user.pk})
    return membership


def member_remove(*, actor, project: Project, username: str, role: str) -> None:
    _require(actor, Action.PROJECT_MANAGE_MEMBERS, project)
    with transaction.atomic(durable=True):
        audit_chain_lock()  # before the row lock: see _lock_project
        membership = (Membership.objects.select_for_update()
                      .filter(project=project, user__username=username, role=role).first())
        if membership is None:
            raise ValidationFailed(f"{username} does not hold the {role.replace('_', ' ')} role here.")
        user_id = membership.user_id
        membership.delete()
        audit_record(actor=actor, action="member.role_revoked", project=project, object_type="user",
                     object_id=str(user_id), before={"user": username, "role": role})


def project_set_solo(*, actor, project: Project, solo: bool) -> Project:
    """Admins only: let one person hold every role (deciding their own gates then needs a hat switch)."""
    _require(actor, Action.PROJECT_SET_SOLO, project)
    with transaction.atomic(durable=True):
        project = _lock_project(project)
        if project.solo_mode == solo:
            return project
        before = {"solo_mode": project.solo_mode}
        project.solo_mode = solo
        project.save(update_fields=["solo_mode"])
        audit_record(actor=actor, action="project.solo_mode_set", project=project, obj=project,
                     before=before, after={"solo_mode": solo})
    return project


def project_set_signoff_approvals(*, actor, project: Project, approvals) -> Project:
    """Admins only: how many distinct sign-off owners must approve a model for production at Play 5
    (1 or 2)."""
    _require(actor, Action.PROJECT_SET_APPROVALS, project)
    if isinstance(approvals, bool) or approvals not in (1, 2, "1", "2"):
        raise ValidationFailed("Choose how many sign-off owners must approve: 1 or 2.")
    approvals = int(approvals)
    with transaction.atomic(durable=True):
        project = _lock_project(project)
        if project.signoff_approvals == approvals:
            return project
        before = {"signoff_approvals": project.signoff_approvals}
        project.signoff_approvals = approvals
        project.save(update_fields=["signoff_approvals"])
        audit_record(actor=actor, action="project.signoff_approvals_set", project=project, obj=project,
                     before=before, after={"signoff_approvals": approvals})
    return project


# --- plays ------------------------------------------------------------------------------------------


def play_work_begin(*, actor, play: Play) -> Play:
    """Guard for any work on a play (deliverable edits, uploads, jobs), inside the caller's transaction:
    checks the role and the state, and moves a ready or rejected play to in progress."""
    project = play.cycle.project
    _require(actor, Action.PLAY_WORK, project, play=play)
    if project.status != Project.Status.ACTIVE:
        raise Conflict("This project is closed.")
    if play.status not in WORKABLE:
        raise Conflict(f"Play {play.number} is {play.get_status_display().lower()}: it cannot be worked on now.")
    if play.status != Play.Status.IN_PROGRESS:
        before = _play_state(play)
        play.status = Play.Status.IN_PROGRESS
        play.save(update_fields=["status", "updated_at"])
        audit_record(actor=actor, action="play.started", project=project, obj=play,
                     before=before, after=_play_state(play))
    return play


def play_update_deliverable(*, actor, play: Play, deliverable: dict) -> Play:
    """Merge `deliverable` into the play's draft after validating every field; nothing is written if any
    field is bad."""
    with transaction.atomic(durable=True):
        play = _locked_play(play)
        play_work_begin(actor=actor, play=play)
        cleaned = registry.play_module(play.number).clean(play, deliverable)
        before = dict(play.deliverable)
        play.deliverable = {**play.deliverable, **cleaned}
        play.save(update_fields=["deliverable", "updated_at"])
        audit_record(actor=actor, action="play.deliverable_updated", project=play.cycle.project, obj=play,
                     before={k: before.get(k) for k in cleaned}, after=cleaned)
    return play


def play_record_evidence(*, actor, play: Play, key: str, value: dict, merge: bool = False) -> Play:
    """Write measured evidence (a job's numbers) into the play's gate record. Called by job services
    inside their transaction, so the job's success and its evidence commit together. With `merge`, the
    value's keys are added to what the key already holds (one entry per training run, say)."""
    play = _locked_play(play)
    before = play.evidence.get(key)
    new = {**(before or {}), **value} if merge else value
    play.evidence = {**play.evidence, key: new}
    play.save(update_fields=["evidence", "updated_at"])
    audit_record(actor=actor, action="play.evidence_recorded", project=play.cycle.project, obj=play,
                 before=None if merge else {key: before}, after={key: value})
    return play


def play_submit(*, actor, play: Play) -> Play:
    """Hand the play to its gate. Every blocking automatic check must pass and no job may be running."""
    with transaction.atomic(durable=True):
        play = _locked_play(play)
        project = play.cycle.project
        _require(actor, Action.PLAY_SUBMIT, project, play=play)
        if play.status != Play.Status.IN_PROGRESS:
            raise Conflict(f"Play {play.number} is {play.get_status_display().lower()}: only a play in "
                           "progress can be submitted.")
        if _working_jobs().filter(play=play).exists():
            raise Conflict("A job for this play is still running: wait for it or cancel it before submitting.")
        checks = registry.play_module(play.number).checks(play)
        failing = [c for c in checks if c.blocking and not c.passed]
        if failing:
            raise ValidationFailed(
                "The gate's checks do not pass yet: " + "; ".join(f"{c.label} — {c.detail}" for c in failing),
                {"checks": [c.as_dict() for c in checks]},
            )
        registry.play_module(play.number).verify(play)
        before = _play_state(play)
        play.status = Play.Status.SUBMITTED
        play.submitted_by = actor
        play.submitted_at = timezone.now()
        play.save(update_fields=["status", "submitted_by", "submitted_at", "updated_at"])
        audit_record(actor=actor, action="play.submitted", project=project, obj=play, before=before,
                     after={**_play_state(play), "checks": [c.as_dict() for c in checks],
                            "deliverable": play.deliverable})
    return play


def gate_decide(*, actor, play: Play, decision: str, reason: str = "", hat_switch: bool = False) -> GateDecision:
    """The sign-off owner's decision on a submitted play.

    What a decision does is the play module's ``outcomes``: approve unlocks the next play; reject sends the
    play back to its owner with the reason; ship_baseline closes the project with the baseline (Play 1) or
    hands the baseline on to Play 6 (Play 5); reject_to_play4 / reject_to_play3 send the work back to an
    earlier play and lock the plays after it. Nobody decides on their own work (the module's rule; solo
    mode: after a hat switch). Where a decision needs several sign-off owners (a production approval under
    a two-approval project), each records theirs and the last one makes it take effect.
    """
    from apps.playbook.plays import ADVANCE, CLOSE_CYCLE, CLOSE_WITH_BASELINE

    reason = (reason or "").strip()
    if decision not in GateDecision.Decision.values:
        raise ValidationFailed(f"Choose a decision: {'; '.join(GateDecision.Decision.labels)}.")
    with transaction.atomic(durable=True):
        play = _locked_play(play)
        project = play.cycle.project
        _require(actor, Action.GATE_DECIDE, project, play=play, hat_switch=hat_switch)
        if play.status != Play.Status.SUBMITTED:
            raise Conflict(f"Play {play.number} is {play.get_status_display().lower()}: only a submitted "
                           "play's gate can be decided.")
        spec = registry.play_module(play.number)
        unavailable = spec.decisions(play).get(decision)
        outcome = spec.outcomes.get(decision)
        if unavailable is None or outcome is None:
            raise ValidationFailed(f"'{decision}' is not a decision Play {play.number}'s gate offers "
                                   f"(it offers: {', '.join(spec.decisions(play))}).")
        if unavailable:
            raise Conflict(unavailable)
        if outcome.needs_reason and not reason:
            message = "Write a reason for this decision: it goes back to the people who do the work."
            raise ValidationFailed(message, fields={"reason": message})
        hat_switched = bool(hat_switch and spec.conflict_of_interest(play, actor))
        if hat_switched:
            audit_record(actor=actor, action="gate.hat_switched", project=project, obj=play,
                         after={"acting_as": Role.SIGNOFF_OWNER, "submitted_by": play.submitted_by_id})
        earlier = _approvals_so_far(play, decision)
        if actor.pk in earlier:
            raise Conflict("You have already recorded this decision: another sign-off owner must add theirs.")
        needed = spec.approvals_needed(play, decision)
        checks = [c.as_dict() for c in spec.checks(play)]
        record = GateDecision.objects.create(
            play=play, decision=decision, reason=reason, decided_by=actor, hat_switch=hat_switched,
            checks=checks, deliverable=play.deliverable,
        )
        outputs = {}
        if outcome.hands_on and (handed := spec.outputs_for(play, decision)) is not None:
            outputs = {"version": spec.outputs_version, "data": asdict(handed)}
            record.outputs = outputs
            record.save(update_fields=["outputs"])
        if len(earlier) + 1 < needed:
            audit_record(actor=actor, action="gate.approval_recorded", project=project, obj=play,
                         after={"decision": decision, "reason": reason, "decision_id": record.pk,
                                "approvals": len(earlier) + 1, "needed": needed, "hat_switch": hat_switched})
            return record
        before = _play_state(play)
        if outcome.effect in (ADVANCE, CLOSE_WITH_BASELINE, CLOSE_CYCLE):
            play.status, play.rejection_reason = Play.Status.APPROVED, ""
        elif outcome.back_to is None or outcome.back_to == play.number:
            play.status, play.rejection_reason = Play.Status.REJECTED, reason
        else:
            play.status, play.rejection_reason = Play.Status.LOCKED, reason
        play.save(update_fields=["status", "rejection_reason", "updated_at"])
        audit_record(actor=actor, action=f"gate.{decision}", project=project, obj=play, before=before,
                     after={**_play_state(play), "decision": decision, "reason": reason,
                            "hat_switch": hat_switched, "decision_id": record.pk,
                            **({"approvals": len(earlier) + 1} if needed > 1 else {}),
                            **({"outputs": outputs} if outputs else {})})
        spec.on_decided(play, record)  # first: the decision's own record queues before what it unlocks
        if outcome.effect == ADVANCE:
            _unlock_next(actor=actor, play=play)
        elif outcome.effect == CLOSE_WITH_BASELINE:
            _close_shipping_baseline(actor=actor, play=play)
        elif outcome.effect == CLOSE_CYCLE:
            _cycle_close(actor=actor, cycle=play.cycle,
                         reason=f"Play {play.number}: {GateDecision.Decision(decision).label.lower()}. {reason}".strip())
        elif outcome.back_to not in (None, play.number):
            _send_back(actor=actor, play=play, to=outcome.back_to, reason=reason)
    return record


def _approvals_so_far(play: Play, decision: str) -> set[int]:
    """Who has already recorded ``decision`` on the play's current submission."""
    return set(GateDecision.objects.filter(play=play, decision=decision, created_at__gte=play.submitted_at)
               .values_list("decided_by_id", flat=True))


def _send_back(*, actor, play: Play, to: int, reason: str) -> None:
    """Inside the decision's transaction: the earlier play ``to`` goes back to its owner as rejected, with
    the reason, and the plays between it and ``play`` lock again until it is approved anew."""
    project = play.cycle.project
    target = Play.objects.select_for_update().get(cycle=play.cycle, number=to)
    if target.status != Play.Status.APPROVED:
        raise Conflict(f"Play {to} is not approved in this cycle: there is nothing to send back to.")
    before = _play_state(target)
    target.status, target.rejection_reason = Play.Status.REJECTED, f"Sent back from Play {play.number}: {reason}"
    target.save(update_fields=["status", "rejection_reason", "updated_at"])
    audit_record(actor=actor, action="play.sent_back", project=project, obj=target, before=before,
                 after={**_play_state(target), "from_play": play.number, "reason": reason})
    for between in Play.objects.select_for_update().filter(cycle=play.cycle, number__gt=to, number__lt=play.number):
        before = _play_state(between)
        between.status = Play.Status.LOCKED
        between.save(update_fields=["status", "updated_at"])
        audit_record(actor=actor, action="play.relocked", project=project, obj=between, before=before,
                     after={**_play_state(between), "until": f"Play {to} is approved again"})


def _unlock_next(*, actor, play: Play) -> None:
    nxt = Play.objects.select_for_update().filter(cycle=play.cycle, number=play.number + 1).first()
    if nxt is not None and nxt.status == Play.Status.LOCKED:
        _play_unlock(actor=actor, play=nxt)
        registry.play_module(nxt.number).on_unlock(nxt)


def _close_shipping_baseline(*, actor, play: Play) -> None:
    _project_close(actor=actor, project=play.cycle.project, status=Project.Status.CLOSED_BASELINE_SHIPPED,
                   reason=f"Play {play.number}'s gate shipped the baseline.")


# --- cycles and projects ------------------------------------------------------------------------------


def _cycle_close(*, actor, cycle: Cycle, reason: str) -> None:
    """Inside the caller's transaction: skip the plays the cycle did not reach and close it."""
    project = cycle.project
    for later in Play.objects.select_for_update().filter(cycle=cycle).exclude(
            status__in=[Play.Status.APPROVED, Play.Status.SKIPPED, Play.Status.INHERITED]):
        before = _play_state(later)
        later.status = Play.Status.SKIPPED
        later.save(update_fields=["status", "updated_at"])
        audit_record(actor=actor, action="play.skipped", project=project, obj=later, before=before,
                     after=_play_state(later))
    Cycle.objects.filter(pk=cycle.pk).update(status=Cycle.Status.CLOSED, closed_at=timezone.now())
    audit_record(actor=actor, action="cycle.closed", project=project, obj=cycle,
                 before={"status": Cycle.Status.ACTIVE}, after={"status": Cycle.Status.CLOSED, "reason": reason})


def _project_close(*, actor, project: Project, status: str, reason: str) -> Project:
    project = Project.objects.select_for_update().get(pk=project.pk)
    for cycle in Cycle.objects.select_for_update().filter(project=project, status=Cycle.Status.ACTIVE):
        _cycle_close(actor=actor, cycle=cycle, reason=reason)
    before = {"status": project.status}
    project.status, project.closed_reason, project.closed_at = status, reason, timezone.now()
    project.save(update_fields=["status", "closed_reason", "closed_at"])
    audit_record(actor=actor, action="project.closed", project=project, obj=project, before=before,
                 after={"status": status, "reason": reason})
    return project


CLOSING = {
    "shipped": Project.Status.CLOSED_SHIPPED,
    "baseline_shipped": Project.Status.CLOSED_BASELINE_SHIPPED,
    "abandoned": Project.Status.ABANDONED,
}


def project_close(*, actor, project: Project, outcome: str, reason: str) -> Project:
    """Close an active project: "shipped" (a model a Play 5 gate approved is in use and the project ends),
    "baseline_shipped" (a Play 1 or Play 5 gate chose the baseline) or "abandoned". The active cycle
    closes with it and the plays it did not reach are skipped. A reason is required."""
    _require(actor, Action.PROJECT_CLOSE, project)
    reason = (reason or "").strip()
    if outcome not in CLOSING:
        raise ValidationFailed("Choose how the project closes: model shipped, baseline shipped or abandoned.")
    if not reason:
        raise ValidationFailed("Closing a project needs a reason: it stays in the record.")
    with transaction.atomic(durable=True):
        project = _lock_project(project)
        if project.status != Project.Status.ACTIVE:
            raise Conflict(f"This project is already closed ({project.get_status_display().lower()}).")
        decided = GateDecision.objects.filter(play__cycle__project=project)
        if outcome == "shipped" and not decided.filter(play__number=5, decision="approve").exists():
            raise Conflict("Only a model that a Play 5 gate approved can ship: evaluate it against the "
                           "baseline first.")
        if outcome == "baseline_shipped" and not decided.filter(decision="ship_baseline").exists():
            raise Conflict("No gate has chosen to ship the baseline: a sign-off owner decides that at "
                           "Play 1 or Play 5.")
        return _project_close(actor=actor, project=project, status=CLOSING[outcome], reason=reason)


RETRAIN_START = 3  # a retrain re-runs the gates from the data pipeline on; Plays 1-2 are inherited


def cycle_open_retrain(*, actor=None, project: Project, reason: str, signal: dict | None = None) -> Cycle:
    """Open a new cycle that fine-tunes from the current checkpoint and goes through the gates again.

    The system (a tripped monitoring threshold: ``actor`` None) or a model or data owner may open it. The
    active cycle closes; the new one inherits Plays 1 and 2 (scope, target and base model) and starts at
    Play 3 with fresh data. It needs a checkpoint some Play 4 gate approved."""
    from apps.playbook.selectors import cycle_inputs

    if actor is not None:
        _require(actor, Action.CYCLE_RETRAIN, project)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why the model is retrained (the signal or the person's reason).")
    with transaction.atomic(durable=True):
        project = _lock_project(project)
        if project.status != Project.Status.ACTIVE:
            raise Conflict("This project is closed: a retrain needs an active project.")
        current = project.cycles.select_for_update().filter(status=Cycle.Status.ACTIVE).first()
        # With no active cycle (the last one kept the model in production), the newest cycle's hand-offs.
        latest = current or project.cycles.order_by("-number").first()
        inputs = cycle_inputs(latest) if latest else {}
        if 4 not in inputs:
            raise Conflict("Nothing to retrain yet: no Play 4 gate has approved a checkpoint.")
        if current is not None and _working_jobs().filter(play__cycle=current, created_by__isnull=False).exists():
            raise Conflict("A job of the current cycle is still running: wait for it or cancel it first.")
        who = SYSTEM if actor is None else actor
        if current is not None:
            # The system's own work on the cycle being closed (its evaluation, a record) stops with it.
            jobs_cancel_unfinished(actor=who, reason="The cycle closed for a retrain.", jobs=_working_jobs().filter(
                play__cycle=current, created_by__isnull=True))
            _cycle_close(actor=who, cycle=current, reason=f"Retrain: {reason}")
        trigger = {"kind": "retrain", "by": SYSTEM if actor is None else actor.get_username(),
                   "from_cycle": latest.number if latest else None, "signal": signal or {}}
        return _cycle_open(actor=who, project=project, reason=f"Retrain: {reason}"[:200], trigger=trigger,
                           start_at=RETRAIN_START)


# --- jobs started by people ---------------------------------------------------------------------------


def play_job_start(*, actor, play: Play, kind: str, params: dict | None = None) -> Job:
    """A person working a play starts one of the play's job kinds; the play moves to in progress."""
    if kind not in registry.job_kinds():
        raise ValidationFailed(f"There is no job kind {kind!r}; the kinds are: {', '.join(sorted(registry.job_kinds()))}.")
    with transaction.atomic(durable=True):
        play = _locked_play(play)
        play_work_begin(actor=actor, play=play)
        kinds = registry.play_module(play.number).job_kinds
        if kind not in kinds:
            allowed = ", ".join(sorted(kinds)) or "none yet"
            raise ValidationFailed(f"Play {play.number} does not run {kind} jobs (it runs: {allowed}).")
        if kinds[kind].subject != "play":
            raise ValidationFailed(f"{kind} jobs are started from their {kinds[kind].subject}, not from the play.")
        return job_enqueue(kind, play, params, requested_by=actor)


def job_cancel(*, actor, job: Job) -> Job:
    """Ask a job to stop: whoever owns its play (or, for a project-level job, its project's curators)."""
    verdict = policy.check_job_cancel(actor, job)
    if not verdict:
        raise NotAllowed(verdict.reason)
    return job_request_cancel(actor=actor, job=job)

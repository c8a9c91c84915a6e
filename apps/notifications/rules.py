"""Which committed audit events notify whom, and what the notification says.

Each rule reads the event (and the current rows it points at) and returns one draft per recipient.
Nobody is notified of their own action, and a person gets at most one notification per event.

    play.submitted            -> whoever may decide the gate (policy + the play's conflict-of-interest rule)
    gate.approval_recorded    -> the sign-off owners whose approval is still missing
    play.ready, play.assigned -> the play's owners (the new assignee)
    gate.<decision>           -> the play's owners and its submitter
    play.sent_back            -> the owners of the play the work went back to
    monitoring.window_judged  -> for each alert, the members of its audience role (a retrain trigger: also
                                 the sign-off owners)
    monitoring.retrain_skipped -> model and sign-off owners (a trigger that opened no cycle)
    cycle.opened              -> model and data owners
    deployment.promote/restore -> model, data and sign-off owners (what production serves changed)
"""
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.urls import reverse

from apps.accounts.models import Membership, Role
from apps.monitoring.models import Alert
from apps.playbook import policy
from apps.playbook.catalogue import PLAYS
from apps.playbook.models import Cycle, GateDecision, Play
from apps.playbook.policy import Action

User = get_user_model()

GATE_WAITING, PLAY_READY, GATE_DECIDED, ALERT, CYCLE_OPENED, PRODUCTION = (
    "gate_waiting", "play_ready", "gate_decided", "alert", "cycle_opened", "production")

DECIDED = {
    GateDecision.Decision.APPROVE: "Play {n} approved",
    GateDecision.Decision.REJECT: "Play {n} rejected",
    GateDecision.Decision.SHIP_BASELINE: "Play {n}: the baseline ships",
    GateDecision.Decision.REJECT_TO_PLAY4: "Play {n} sent back to Play 4",
    GateDecision.Decision.REJECT_TO_PLAY3: "Play {n} sent back to Play 3",
    GateDecision.Decision.KEEP_PRODUCTION: "Play {n}: the model in production stays (the cycle ends)",
}


@dataclass(frozen=True)
class Draft:
    recipient_id: int
    kind: str
    title: str
    body: str
    link: str
    project_id: int | None


def drafts_for(event) -> list[Draft]:
    """The notifications one committed audit event calls for (none for most events)."""
    rule = RULES.get(event.action)
    if rule is None and event.action.startswith("gate.") and event.action[5:] in DECIDED:
        rule = _gate_decided
    if rule is None:
        return []
    seen, drafts = {event.actor_id}, []
    for draft in rule(event):
        if draft.recipient_id not in seen:
            seen.add(draft.recipient_id)
            drafts.append(draft)
    return drafts


# --- who ----------------------------------------------------------------------------------------------


def _members(project_id: int, roles) -> list[int]:
    """Active members holding any of ``roles``, in a stable order."""
    return list(Membership.objects.filter(project_id=project_id, role__in=list(roles), user__is_active=True)
                .order_by("user_id").values_list("user_id", flat=True).distinct())


def _deciders(play: Play) -> list[int]:
    """Members who may decide the play's gate now: the policy's role and the play module's conflict of
    interest (the submitter, or for Play 5 whoever trained the candidate, is left out)."""
    project = play.cycle.project
    people = User.objects.filter(memberships__project=project, is_active=True).distinct().order_by("pk")
    return [u.pk for u in people
            if u.pk != play.submitted_by_id and policy.check(u, Action.GATE_DECIDE, project, play=play)]


# --- what ---------------------------------------------------------------------------------------------


def _play(event) -> Play | None:
    if event.object_type != "play" or not event.object_id.isdigit():
        return None
    return Play.objects.select_related("cycle__project").filter(pk=int(event.object_id)).first()


def _play_link(play: Play) -> str:
    return reverse("playbook:play", args=[play.pk])


def _named(play: Play) -> str:
    return f"Play {play.number} ({PLAYS[play.number].title}) of “{play.cycle.project.name}”"


def _submitted(event):
    play = _play(event)
    if play is None:
        return []
    body = (f"{event.actor_label} submitted {_named(play)}. Its gate waits for a sign-off owner: approve it, "
            "or send it back with a reason.")
    return [Draft(uid, GATE_WAITING, f"Play {play.number} waits for your decision", body, _play_link(play),
                  play.cycle.project_id) for uid in _deciders(play)]


def _approval_recorded(event):
    play = _play(event)
    if play is None or play.submitted_at is None:
        return []
    after = event.after or {}
    decision = after.get("decision", "")
    recorded = set(GateDecision.objects.filter(play=play, decision=decision, created_at__gte=play.submitted_at)
                   .values_list("decided_by_id", flat=True))
    label = dict(GateDecision.Decision.choices).get(decision, decision).lower()
    body = (f"{event.actor_label} recorded “{label}” on {_named(play)} ({after.get('approvals', 1)} of "
            f"{after.get('needed', 2)}). It takes effect once another sign-off owner adds theirs.")
    return [Draft(uid, GATE_WAITING, f"Play {play.number} needs another approval", body, _play_link(play),
                  play.cycle.project_id) for uid in _deciders(play) if uid not in recorded]


def _ready(event):
    play = _play(event)
    if play is None:
        return []
    definition = PLAYS[play.number]
    body = (f"{_named(play)}, cycle {play.cycle.number}, has unlocked: its trigger holds "
            f"({definition.trigger.lower()}). {definition.summary}")
    return [Draft(uid, PLAY_READY, f"Play {play.number} is ready for you", body, _play_link(play),
                  play.cycle.project_id) for uid in _members(play.cycle.project_id, definition.working_roles)]


def _assigned(event):
    play = _play(event)
    assignee = (event.after or {}).get("assignee")
    if play is None or not isinstance(assignee, int):
        return []
    body = f"{event.actor_label} gave you {_named(play)}: it is waiting for its owner."
    return [Draft(assignee, PLAY_READY, f"Play {play.number} is assigned to you", body, _play_link(play),
                  play.cycle.project_id)]


def _gate_decided(event):
    play = _play(event)
    if play is None:
        return []
    after = event.after or {}
    decision = after.get("decision") or event.action[5:]
    label = dict(GateDecision.Decision.choices).get(decision, decision)
    reason = (after.get("reason") or "").strip()
    body = f"{event.actor_label} decided on {_named(play)}: {label.lower()}." + (f" Reason: {reason}" if reason else "")
    owners = _members(play.cycle.project_id, PLAYS[play.number].working_roles)
    recipients = ([play.submitted_by_id] if play.submitted_by_id else []) + owners
    return [Draft(uid, GATE_DECIDED, DECIDED[decision].format(n=play.number), body, _play_link(play),
                  play.cycle.project_id) for uid in recipients]


def _sent_back(event):
    play = _play(event)
    if play is None:
        return []
    after = event.after or {}
    body = (f"{event.actor_label} sent the work back from Play {after.get('from_play', '?')}: {_named(play)} is "
            f"open again. Reason: {after.get('reason') or '—'}")
    return [Draft(uid, GATE_DECIDED, f"Play {play.number} is back with you", body, _play_link(play),
                  play.cycle.project_id)
            for uid in _members(play.cycle.project_id, PLAYS[play.number].working_roles)]


def _window_judged(event):
    after = event.after or {}
    if (not after.get("alerts") and not after.get("retrain")) or not event.object_id.isdigit():
        return []
    alerts = list(Alert.objects.filter(window_id=int(event.object_id)).select_related("deployment", "window")
                  .order_by("id"))
    if not alerts:
        return []
    deployment, window = alerts[0].deployment, alerts[0].window
    per_person: dict[int, list[Alert]] = {}
    for alert in alerts:
        roles = ({alert.audience} & set(Role.values)) | ({Role.SIGNOFF_OWNER} if alert.retrain else set())
        for uid in _members(deployment.project_id, roles):
            per_person.setdefault(uid, []).append(alert)
    link = reverse("playbook:deployment-monitoring", args=[deployment.pk])
    drafts = []
    for uid, theirs in per_person.items():
        retrain = any(a.retrain for a in theirs)
        signals = ", ".join(sorted({a.signal.replace("_", " ") for a in theirs}))
        title = (f"Retrain triggered on deployment {deployment.pk}" if retrain
                 else f"Alert on deployment {deployment.pk}: {signals}")
        lines = [f"- {a.signal.replace('_', ' ')}: {a.reason}" for a in theirs]
        tail = (" The live metric fell under its floor: the system opens the next cycle (within its budget)."
                if retrain else "")
        body = f"Monitoring window {window.index} of deployment {deployment.pk}:\n" + "\n".join(lines) + tail
        drafts.append(Draft(uid, ALERT, title, body, link, deployment.project_id))
    return drafts


def _retrain_skipped(event):
    if event.object_type != "alert" or not event.object_id.isdigit():
        return []
    alert = Alert.objects.select_related("deployment").filter(pk=int(event.object_id)).first()
    if alert is None:
        return []
    why = (event.after or {}).get("why", "")
    body = f"A retrain trigger on deployment {alert.deployment_id} opened no cycle. {why}".strip()
    link = reverse("playbook:deployment-monitoring", args=[alert.deployment_id])
    return [Draft(uid, ALERT, "A retrain trigger opened no cycle", body, link, alert.deployment.project_id)
            for uid in _members(alert.deployment.project_id, {Role.MODEL_OWNER, Role.SIGNOFF_OWNER})]


def _cycle_opened(event):
    if event.object_type != "cycle" or not event.object_id.isdigit():
        return []
    cycle = Cycle.objects.select_related("project").filter(pk=int(event.object_id)).first()
    if cycle is None:
        return []
    project, trigger = cycle.project, cycle.trigger or {}
    if trigger.get("kind") == "retrain":
        title = f"Retrain: cycle {cycle.number} of “{project.name}” opened"
        inherited = (event.after or {}).get("inherited_plays") or []
        carried = f" Plays {inherited[0]}–{inherited[-1]} carry over;" if inherited else ""
        body = (f"Opened by {trigger.get('by') or event.actor_label}. {cycle.started_reason}.{carried} "
                f"the gates run again from Play {len(inherited) + 1} and fine-tune from the approved checkpoint.")
    else:
        title = f"Cycle {cycle.number} of “{project.name}” opened"
        body = f"{cycle.started_reason}. Play 1 is ready for its model owner."
    return [Draft(uid, CYCLE_OPENED, title, body, reverse("playbook:project", args=[project.pk]), project.pk)
            for uid in _members(project.pk, {Role.MODEL_OWNER, Role.DATA_OWNER})]


PRODUCTION_CHANGES = {"promote": "is now in production", "restore": "is back in production (a rollback)"}


def _production_changed(event):
    """A deployment became production (promoted by a person, or by the system on a Play 5 approval, or
    restored by a rollback): everyone on the project who answers for the model hears of it."""
    verb = PRODUCTION_CHANGES.get(event.action.split(".", 1)[1])
    if verb is None or not event.object_id.isdigit() or event.project_id is None:
        return []
    after = event.after or {}
    who = after.get("approved_by") and f" on {after['approved_by']}'s Play 5 approval" or ""
    body = f"By {event.actor_label}{who}. {after.get('reason', '')}".strip()
    link = reverse("playbook:deployment-monitoring", args=[int(event.object_id)])
    return [Draft(uid, PRODUCTION, f"Deployment #{event.object_id} {verb}", body, link, event.project_id)
            for uid in _members(event.project_id, {Role.MODEL_OWNER, Role.DATA_OWNER, Role.SIGNOFF_OWNER})]


RULES = {
    "deployment.promote": _production_changed,
    "deployment.restore": _production_changed,
    "play.submitted": _submitted,
    "gate.approval_recorded": _approval_recorded,
    "play.ready": _ready,
    "play.assigned": _assigned,
    "play.sent_back": _sent_back,
    "monitoring.window_judged": _window_judged,
    "monitoring.retrain_skipped": _retrain_skipped,
    "cycle.opened": _cycle_opened,
}

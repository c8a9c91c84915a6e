"""The portfolio: one read across every project, for admins and leads.

Who sees it: admins (Django staff) and leads, that is anyone holding the permission
``playbook.view_portfolio`` ("Can see the portfolio across every project"), granted by an admin in the admin
site to the user or to a group they are in (both edits are audited: ``user.groups_changed``,
``group.saved``). Everyone else is refused (403 on the page and the API, as the audit trail refuses).

What it shows, each figure computed here from the records and the audit trail:
- each project's cycle, its current play (the first open play of the newest cycle) and that play's state;
- gates waiting for a decision, for how long (since submit) and who may decide them;
- jobs queued or running now, for how long and how far along;
- time spent per play across cycles: for every play that stands approved, the time it was open (from the
  status changes its audit events record: ready, in progress, submitted or sent back count as open), with
  the median and the maximum per play number;
- plays stuck: open for longer than ``PLAYBOOK_STUCK_AFTER_DAYS`` days since they last opened.

The whole read takes a fixed number of queries, whatever the number of projects, plays or jobs.
"""
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import Membership, Role
from apps.audit.models import AuditEvent
from apps.core import registry
from apps.jobs.models import Job
from apps.playbook import selectors
from apps.playbook.catalogue import PLAYS
from apps.playbook.models import Play, Project

PERMISSION = "playbook.view_portfolio"
OPEN = frozenset({Play.Status.READY, Play.Status.IN_PROGRESS, Play.Status.SUBMITTED, Play.Status.REJECTED})
# The audit actions that may change a play's status (each records the status after it in `after`).
STATUS_ACTIONS = ("play.ready", "play.started", "play.submitted", "play.sent_back", "play.relocked", "play.skipped")

# Project states, most in need of attention first (the page's order after "stuck").
STATE_ORDER = {"submitted": 1, "rejected": 2, "in_progress": 3, "ready": 3, "idle": 4, "closed": 5}
STATE_LABELS = {"submitted": "Waiting for sign-off", "rejected": "Sent back to its owner",
                "in_progress": "In progress", "ready": "Ready to start", "idle": "No play open", "closed": "Closed"}


def can_view_portfolio(user) -> bool:
    """Admins and leads (holders of ``playbook.view_portfolio``, directly or through a group)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_staff or user.has_perm(PERMISSION))


def openable_projects(user, view: "Portfolio") -> set[int]:
    """The portfolio's projects whose pages `user` may open: every one for an admin; for a lead, those
    where they hold a role (the portfolio shows the others by name only; an admin grants roles). One query."""
    if user.is_staff:
        return {row.project.pk for row in view.projects}
    return set(Membership.objects.filter(user=user).values_list("project_id", flat=True))


def stuck_after() -> timedelta:
    return timedelta(days=settings.PLAYBOOK_STUCK_AFTER_DAYS)


# --- pure figures -------------------------------------------------------------------------------------


def human_duration(span: timedelta | None) -> str:
    """A duration in its two largest units: "3 d 4 h", "5 h 12 min", "12 min", "under a minute"."""
    if span is None:
        return ""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else "under a minute"


@dataclass(frozen=True)
class OpenTime:
    """How long a play was open: the finished stretches together, and the start of the stretch under way."""
    closed_total: timedelta
    open_since: datetime | None


def open_time(transitions: list[tuple[datetime, str]]) -> OpenTime:
    """Fold a play's status changes (time, status after), oldest first, into its open time. A status in
    OPEN starts a stretch (if none is under way); any other status ends it."""
    total, since = timedelta(0), None
    for when, status in transitions:
        if status in OPEN:
            since = since or when
        elif since is not None:
            total += when - since
            since = None
    return OpenTime(total, since)


@dataclass(frozen=True)
class PlayTimes:
    number: int
    title: str
    count: int
    median: timedelta | None
    maximum: timedelta | None

    @property
    def median_text(self) -> str:
        return human_duration(self.median)

    @property
    def maximum_text(self) -> str:
        return human_duration(self.maximum)


def play_time_stats(spent: dict[int, list[timedelta]]) -> list[PlayTimes]:
    """Median and maximum time per play number, for every play in the catalogue (none measured: empty)."""
    rows = []
    for number, definition in PLAYS.items():
        values = sorted(spent.get(number, []))
        rows.append(PlayTimes(number, definition.title, len(values),
                              statistics.median(values) if values else None, values[-1] if values else None))
    return rows


# --- the rows -----------------------------------------------------------------------------------------


@dataclass
class ProjectRow:
    project: Project
    cycle_number: int | None
    play: Play | None  # the current play (None when closed, or when no play is open)
    state: str
    open_since: datetime | None
    open_for: timedelta | None
    waiting_for: timedelta | None  # since submit, for a gate waiting for its decision
    stuck: bool

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def outcome(self) -> str:
        return self.project.get_status_display() if self.state == "closed" else ""

    @property
    def open_for_text(self) -> str:
        return human_duration(self.open_for)

    @property
    def waiting_for_text(self) -> str:
        return human_duration(self.waiting_for)


@dataclass
class GateRow:
    play: Play
    project: Project
    cycle_number: int
    submitted_at: datetime
    waiting_for: timedelta
    deciders: list[str]
    stuck: bool
    approvals_needed: int = 1
    approvals_given: list[str] = field(default_factory=list)

    @property
    def waiting_for_text(self) -> str:
        return human_duration(self.waiting_for)


@dataclass
class JobRow:
    job: Job
    cycle_number: int | None
    since: datetime
    running_for: timedelta

    @property
    def running_for_text(self) -> str:
        return human_duration(self.running_for)

    @property
    def percent(self) -> int:
        return round(max(0.0, min(1.0, self.job.progress or 0.0)) * 100)


@dataclass
class Portfolio:
    now: datetime
    stuck_after_days: int
    projects: list[ProjectRow]
    gates: list[GateRow]
    jobs: list[JobRow]
    play_times: list[PlayTimes]
    stuck: list[ProjectRow] = field(default_factory=list)


# --- the read -----------------------------------------------------------------------------------------


def _status_changes() -> dict[int, list[tuple[datetime, str]]]:
    """Every recorded status change of every play, oldest first, by play id (one query)."""
    changes: dict[int, list[tuple[datetime, str]]] = {}
    events = (AuditEvent.objects.filter(object_type="play")
              .filter(Q(action__in=STATUS_ACTIONS) | Q(action__startswith="gate."))
              .order_by("event_time", "id").values_list("object_id", "event_time", "after__status"))
    for object_id, when, status in events:
        if status:
            changes.setdefault(int(object_id), []).append((when, status))
    return changes


def _deciders(play: Play, signoff: dict[int, list], modules: dict, given: list[str]) -> list[str]:
    """The project's sign-off owners who may decide the gate now: the play's own conflict-of-interest rule
    (the submitter; for Play 5 whoever submitted or trained the candidate) leaves people out unless the
    project is in solo mode, and so does an approval already given (the next one must be someone else's)."""
    project = play.cycle.project
    module = modules[play.number]
    people = signoff.get(project.pk, [])
    if not project.solo_mode:
        people = [u for u in people if not module.conflict_of_interest(play, u)]
    return sorted(u.get_username() for u in people if u.get_username() not in given)


def portfolio(now: datetime | None = None) -> Portfolio:
    """The portfolio across every project (callers check can_view_portfolio first)."""
    now = now or timezone.now()
    limit = stuck_after()
    projects = list(Project.objects.order_by("name", "pk"))
    plays = list(Play.objects.select_related("cycle", "submitted_by", "assignee").order_by("cycle__number", "number"))
    changes = _status_changes()
    signoff: dict[int, list] = {}
    for m in Membership.objects.filter(role=Role.SIGNOFF_OWNER).select_related("user").order_by("created_at", "pk"):
        signoff.setdefault(m.project_id, []).append(m.user)
    modules = registry.play_modules()
    by_project = {p.pk: p for p in projects}

    newest_cycle: dict[int, int] = {}
    spent: dict[int, list[timedelta]] = {}
    for play in plays:
        play.cycle.project = by_project[play.cycle.project_id]
        newest_cycle[play.cycle.project_id] = max(newest_cycle.get(play.cycle.project_id, 0), play.cycle.number)
        if play.status == Play.Status.APPROVED:
            measured = open_time(changes.get(play.pk, []))
            if measured.closed_total > timedelta(0):
                spent.setdefault(play.number, []).append(measured.closed_total)

    current: dict[int, Play] = {}
    for play in plays:
        pid = play.cycle.project_id
        if play.cycle.number == newest_cycle[pid] and play.status in OPEN and pid not in current:
            current[pid] = play

    rows = [_project_row(project, newest_cycle.get(project.pk), current.get(project.pk), changes, now, limit)
            for project in projects]
    rows.sort(key=lambda r: (not r.stuck, STATE_ORDER[r.state], r.open_since or now, r.project.name))

    gates = []
    for play in plays:
        if play.status == Play.Status.SUBMITTED and play.cycle.project.status == Project.Status.ACTIVE:
            submitted_at = play.submitted_at or now
            needed, given = selectors.submission_approvals(play, modules[play.number])
            gates.append(GateRow(play, play.cycle.project, play.cycle.number, submitted_at, now - submitted_at,
                                 _deciders(play, signoff, modules, given), now - submitted_at > limit,
                                 needed, given))
    gates.sort(key=lambda g: (g.submitted_at, g.play.pk))

    jobs = []
    for job in (Job.objects.filter(status__in=Job.ACTIVE)
                .select_related("project", "play__cycle", "created_by").order_by("created_at", "pk")):
        since = job.started_at or job.created_at
        jobs.append(JobRow(job, job.play.cycle.number if job.play_id else None, since, now - since))

    return Portfolio(now=now, stuck_after_days=settings.PLAYBOOK_STUCK_AFTER_DAYS, projects=rows, gates=gates,
                     jobs=jobs, play_times=play_time_stats(spent), stuck=[r for r in rows if r.stuck])


def _project_row(project, cycle_number, play, changes, now, limit) -> ProjectRow:
    if project.status != Project.Status.ACTIVE:
        return ProjectRow(project, cycle_number, None, "closed", project.closed_at, None, None, False)
    if play is None:
        return ProjectRow(project, cycle_number, None, "idle", None, None, None, False)
    since = open_time(changes.get(play.pk, [])).open_since
    open_for = now - since if since else None
    waiting = now - play.submitted_at if play.status == Play.Status.SUBMITTED and play.submitted_at else None
    return ProjectRow(project, cycle_number, play, play.status, since, open_for, waiting,
                      bool(open_for and open_for > limit))


# --- for the API --------------------------------------------------------------------------------------


def _iso(value):
    return value.isoformat() if value else None


def _seconds(span):
    return int(span.total_seconds()) if span is not None else None


def as_dict(view: Portfolio) -> dict:
    """The portfolio as plain data: durations in whole seconds beside their human form."""
    return {
        "generated_at": _iso(view.now),
        "stuck_after_days": view.stuck_after_days,
        "projects": [{
            "id": r.project.pk, "name": r.project.name, "status": r.project.status, "cycle": r.cycle_number,
            "state": r.state, "state_label": r.state_label, "outcome": r.outcome,
            "closed_reason": r.project.closed_reason if r.state == "closed" else "",
            "play": ({"id": r.play.pk, "number": r.play.number, "title": r.play.definition.title,
                      "status": r.play.status, "assignee": r.play.assignee.get_username() if r.play.assignee else None}
                     if r.play else None),
            "open_since": _iso(r.open_since), "open_seconds": _seconds(r.open_for), "open_for": r.open_for_text,
            "waiting_seconds": _seconds(r.waiting_for), "waiting_for": r.waiting_for_text, "stuck": r.stuck,
        } for r in view.projects],
        "gates": [{
            "play": g.play.pk, "number": g.play.number, "title": g.play.definition.title, "project": g.project.pk,
            "project_name": g.project.name, "cycle": g.cycle_number, "submitted_at": _iso(g.submitted_at),
            "submitted_by": g.play.submitted_by.get_username() if g.play.submitted_by else None,
            "waiting_seconds": _seconds(g.waiting_for), "waiting_for": g.waiting_for_text,
            "deciders": g.deciders, "stuck": g.stuck,
            "approvals_needed": g.approvals_needed, "approvals_given": g.approvals_given,
        } for g in view.gates],
        "jobs": [{
            "id": j.job.pk, "kind": j.job.kind, "status": j.job.status, "project": j.job.project_id,
            "project_name": j.job.project.name, "play": j.job.play_id,
            "play_number": j.job.play.number if j.job.play_id else None, "cycle": j.cycle_number,
            "since": _iso(j.since), "running_seconds": _seconds(j.running_for), "running_for": j.running_for_text,
            "progress": j.percent,
        } for j in view.jobs],
        "play_times": [{
            "number": t.number, "title": t.title, "plays_measured": t.count,
            "median_seconds": _seconds(t.median), "median": t.median_text,
            "max_seconds": _seconds(t.maximum), "max": t.maximum_text,
        } for t in view.play_times],
    }

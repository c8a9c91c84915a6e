"""Server-rendered pages. Each view: parse, authorize (selectors), call one service, render or redirect."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import Role
from apps.core.errors import ApplicationError, NotAllowed
from apps.core.views import HtmxHttpRequest, flash_error
from apps.datasets.models import Dataset
from apps.playbook import policy, selectors, services
from apps.playbook.catalogue import PLAYS
from apps.playbook.gates import spec_for
from apps.playbook.models import GateDecision, Play
from apps.playbook.policy import Action
from apps.training.models import Job
from apps.training.views import job_context
from workers.engine.metrics import METRICS


@login_required
@require_GET
def my_work(request: HtmxHttpRequest):
    return render(request, "playbook/my_work.html", {"work": selectors.my_work(request.user)})


@login_required
def project_list(request: HtmxHttpRequest):
    form = {"name": "", "request": ""}
    if request.method == "POST":
        form = {"name": request.POST.get("name", ""), "request": request.POST.get("request", "")}
        try:
            project = services.project_create(actor=request.user, **form)
        except ApplicationError as exc:
            flash_error(request, exc)
        else:
            messages.success(request, f"Project “{project.name}” created: Play 1 is ready for its model owner.")
            return redirect("playbook:project", project_id=project.pk)
    projects = selectors.projects_for_user(request.user)
    return render(request, "playbook/project_list.html", {"projects": projects, "form": form},
                  status=400 if request.method == "POST" else 200)


@login_required
@require_GET
def project_detail(request: HtmxHttpRequest, project_id: int):
    project = selectors.project_for_user(request.user, project_id)
    cycle = selectors.current_cycle(project)
    plays = selectors.cycle_plays(cycle)
    current = next((p for p in plays if p.status not in (Play.Status.APPROVED, Play.Status.SKIPPED,
                                                         Play.Status.LOCKED)), None)
    return render(request, "playbook/project_detail.html", {
        "project": project,
        "cycle": cycle,
        "plays": plays,
        "current": current,
        "members": selectors.members_by_role(project),
        "roles": Role.choices,
        "can_manage_members": bool(policy.check(request.user, Action.PROJECT_MANAGE_MEMBERS, project)),
        "can_set_solo": bool(policy.check(request.user, Action.PROJECT_SET_SOLO, project)),
        "my_roles": [label.lower() for role, label in Role.choices if role in policy.roles_of(request.user, project)],
        "datasets": project.datasets.all(),
    })


@login_required
@require_POST
def project_member_add(request: HtmxHttpRequest, project_id: int):
    project = selectors.project_for_user(request.user, project_id)
    username, role = request.POST.get("username", "").strip(), request.POST.get("role", "")
    try:
        services.member_add(actor=request.user, project=project, username=username, role=role)
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"{username} is now {dict(Role.choices).get(role, role).lower()}.")
    return redirect("playbook:project", project_id=project.pk)


@login_required
@require_POST
def project_solo(request: HtmxHttpRequest, project_id: int):
    project = selectors.project_for_user(request.user, project_id)
    try:
        services.project_set_solo(actor=request.user, project=project, solo=request.POST.get("solo_mode") == "on")
    except ApplicationError as exc:
        flash_error(request, exc)
    return redirect("playbook:project", project_id=project.pk)


LIST_FIELDS = {"shortlist"}
WORKSPACES = {1, 2, 3, 4}


def _scorecard_rows(play: Play) -> list[dict]:
    from apps.training.models import Candidate

    cards = spec_for(play).scorecards(play)
    evidence = play.evidence.get("bakeoff") or {}
    ranking = evidence.get("ranking") or []
    metric = evidence.get("metric", "macro_f1")
    rows = []
    for candidate in Candidate.objects.filter(pk__in=cards).order_by("name"):
        card = cards[candidate.pk]
        memory_mb = (card.get("peak_memory_bytes") or card.get("model_bytes") or 0) / 2**20
        rows.append({
            "candidate": candidate, "card": card, "score": card.get(metric), "memory_mb": memory_mb,
            "rank": ranking.index(candidate.pk) + 1 if candidate.pk in ranking else None,
            "over_latency": card.get("p95_latency_ms", 0) > candidate.latency_budget_ms,
            "over_memory": memory_mb > candidate.memory_budget_mb,
        })
    return rows


def _play_context(request, play: Play, form: dict | None = None) -> dict:
    project = play.cycle.project
    spec = spec_for(play)
    jobs = list(play.jobs.select_related("created_by").order_by("-created_at")[:10])
    latest_job = jobs[0] if jobs else None
    checks = spec.checks(play)
    summary = spec.baseline_summary(play) if play.number == 1 else None
    return {
        "project": project,
        "play": play,
        "definition": PLAYS[play.number],
        "caps": selectors.play_capabilities(request.user, play),
        "form": form if form is not None else play.deliverable,
        "metrics": METRICS,
        "datasets": project.datasets.filter(kind=Dataset.Kind.BASELINE_SAMPLE),
        "jobs": jobs,
        **(job_context(request.user, latest_job) if latest_job else {"job": None}),
        "checks": checks,
        "blocking_failed": any(c.blocking and not c.passed for c in checks),
        "baseline": summary,
        "baseline_results": (play.evidence.get("baseline") or {}).get("results"),
        "decisions": play.decisions.select_related("decided_by")[:10],
        "decision_labels": dict(GateDecision.Decision.choices),
        "can_upload": bool(policy.check(request.user, Action.DATASET_UPLOAD, project)),
        "workspace_template": (f"playbook/_workspace_{play.number}.html" if play.number in WORKSPACES
                               else "playbook/_workspace_later.html"),
        "evidence_template": f"playbook/_evidence_{play.number}.html" if play.number in WORKSPACES else "",
        **(_play2_context(request, play) if play.number == 2 else {}),
        **(_play3_context(request, play) if play.number == 3 else {}),
        **(_play4_context(request, play) if play.number == 4 else {}),
    }


def _play4_context(request, play: Play) -> dict:
    from apps.datasets.models import SplitSet
    from apps.training.models import Candidate
    from apps.training.services import approved_inputs

    approved = approved_inputs(play)
    candidate = Candidate.objects.filter(pk=approved.get("candidate")).first()
    split_set = SplitSet.objects.filter(pk=approved.get("split_set")).first()
    metric, _, _ = spec_for(play).target(play)
    runs = []
    for key, run in sorted((play.evidence.get("runs") or {}).items(), key=lambda kv: int(kv[0])):
        runs.append({**run, "target_value": (run.get("val") or {}).get(metric)})
    return {
        "inputs": {"candidate": candidate, "split_set": split_set,
                   "splits": list(split_set.splits.all()) if split_set else []},
        "runs": runs, "target_metric": metric,
        "frozen_done": any(r["kind"] == "frozen_head" for r in runs),
    }


def _play3_context(request, play: Play) -> dict:
    from django.contrib.auth import get_user_model

    from apps.datasets.models import LabelAudit
    from apps.datasets.selectors import audit_display, audit_summary

    project = play.cycle.project
    state = spec_for(play).state(play)
    dataset, split_set = state["dataset"], state["split_set"]
    balance_rows, balance_splits, ratio = [], [], None
    if dataset:
        splits = list(split_set.splits.all()) if split_set else []
        balance_splits = ["all"] + [s.name for s in splits]
        biggest = max(dataset.label_counts.values())
        for label, count in dataset.label_counts.items():
            balance_rows.append({"label": label, "counts": [count] + [s.label_counts.get(label, 0) for s in splits],
                                 "share": round(100 * count / biggest)})
        ratio = biggest / min(dataset.label_counts.values())
    uploader = dataset.uploaded_by_id if dataset else None
    members = get_user_model().objects.filter(memberships__project=project).distinct().order_by("username")
    possible = [u for u in members if u.pk != uploader]
    # The auditor is a second person: offer someone other than whoever is starting the audit by default.
    default = next((u for u in possible if u.pk != request.user.pk), None)
    summary = audit_summary(state["audit"]) if state["audit"] else None
    can_curate = (bool(policy.check(request.user, Action.DATA_CURATE, project))
                  and project.status == project.Status.ACTIVE)
    audit = state["audit"]
    # Before the first answer the data owner may still cancel the audit or hand it to someone else.
    changeable = bool(summary and can_curate and summary["answered"] == 0
                      and summary["status"] in (LabelAudit.Status.PREPARING, LabelAudit.Status.OPEN))
    if audit is not None:
        reassign_to = [u for u in members if u.pk not in (audit.dataset.uploaded_by_id, audit.auditor_id)]
        reassign_default = next((u for u in reassign_to if u.pk != request.user.pk), None)
    else:
        reassign_to, reassign_default = [], None
    return {
        "play3": state,
        "labelled_datasets": project.datasets.exclude(kind=Dataset.Kind.PRODUCTION_SAMPLE),
        "audits": LabelAudit.objects.filter(dataset__project=project).select_related("auditor"),
        "audit_summary": summary,
        "audit_figures": audit_display(summary) if summary and summary["status"] == "complete" else None,
        "can_curate": can_curate,
        "possible_auditors": possible,
        "default_auditor": default.username if default else "",
        "audit_changeable": changeable,
        "reassign_to": reassign_to,
        "reassign_default": reassign_default.username if reassign_default else "",
        "balance_rows": balance_rows, "balance_splits": balance_splits, "imbalance_ratio": ratio,
    }


def _play2_context(request, play: Play) -> dict:
    project = play.cycle.project
    return {
        "candidates": list(project.candidates.all()),
        "shortlist": play.deliverable.get("shortlist") or [],
        "scorecards": _scorecard_rows(play),
        "bakeoff": play.evidence.get("bakeoff") or {},
        "can_register_candidate": bool(policy.check(request.user, Action.CANDIDATE_REGISTER, project))
        and project.status == project.Status.ACTIVE,
    }


@login_required
def play_detail(request: HtmxHttpRequest, play_id: int):
    """The play page; a POST saves the deliverable (the form keeps what was typed if it is refused)."""
    play = selectors.play_for_user(request.user, play_id)
    if request.method == "POST":
        fields = spec_for(play).keys
        draft = {k: (request.POST.getlist(k) if k in LIST_FIELDS else request.POST.get(k, ""))
                 for k in fields if k in request.POST}
        if "shortlist" in fields and "rationale" in request.POST and "shortlist" not in request.POST:
            draft["shortlist"] = []  # every box unticked
        try:
            play = services.play_update_deliverable(actor=request.user, play=play, deliverable=draft)
        except ApplicationError as exc:
            flash_error(request, exc)
            return render(request, "playbook/play_detail.html",
                          _play_context(request, play, form={**play.deliverable, **draft}), status=400)
        messages.success(request, "Deliverable saved.")
        return redirect("playbook:play", play_id=play.pk)
    if request.htmx and request.GET.get("partial") == "gate":
        return render(request, "playbook/play_detail.html#gate-panel", _play_context(request, play))
    return render(request, "playbook/play_detail.html", _play_context(request, play))


@login_required
@require_POST
def play_submit(request: HtmxHttpRequest, play_id: int):
    play = selectors.play_for_user(request.user, play_id)
    try:
        services.play_submit(actor=request.user, play=play)
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"Play {play.number} submitted: its gate now waits for the sign-off owner.")
    return redirect("playbook:play", play_id=play.pk)


@login_required
@require_POST
def play_decide(request: HtmxHttpRequest, play_id: int):
    play = selectors.play_for_user(request.user, play_id)
    decision = request.POST.get("decision", "")
    try:
        services.gate_decide(actor=request.user, play=play, decision=decision,
                             reason=request.POST.get("reason", ""), hat_switch=request.POST.get("hat_switch") == "on")
    except ApplicationError as exc:
        flash_error(request, exc)
        return redirect("playbook:play", play_id=play.pk)
    messages.success(request, {
        "approve": f"Play {play.number} approved.",
        "reject": f"Play {play.number} sent back to its owner.",
        "ship_baseline": "The baseline ships: the project is closed and the remaining plays are skipped.",
    }[decision])
    return redirect("playbook:project", project_id=play.cycle.project_id)


@login_required
@require_POST
def dataset_upload(request: HtmxHttpRequest, play_id: int):
    from apps.datasets.services import dataset_upload as upload_service

    play = selectors.play_for_user(request.user, play_id)
    # The upload form belongs to the play's workspace: only those who may work on the play use it here.
    verdict = policy.check(request.user, Action.PLAY_WORK, play.cycle.project, play=play)
    if not verdict:
        raise NotAllowed(verdict.reason)
    try:
        dataset = upload_service(actor=request.user, project=play.cycle.project, upload=request.FILES.get("file"),
                                 name=request.POST.get("name", ""),
                                 text_column=request.POST.get("text_column", "text"),
                                 label_column=request.POST.get("label_column", "label"))
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        note = f" Warnings: {' '.join(dataset.warnings)}" if dataset.warnings else ""
        messages.success(request, f"Uploaded “{dataset.name}”: {dataset.rows} rows, {len(dataset.labels)} labels.{note}")
        key = {1: "baseline_dataset", 3: "dataset"}.get(play.number)
        if key and not play.deliverable.get(key):
            try:
                services.play_update_deliverable(actor=request.user, play=play, deliverable={key: dataset.pk})
            except ApplicationError as exc:
                flash_error(request, exc)
    return redirect(reverse("playbook:play", kwargs={"play_id": play.pk}) + "#data")


@login_required
@require_POST
def candidate_add(request: HtmxHttpRequest, play_id: int):
    from apps.training.candidates import candidate_register

    play = selectors.play_for_user(request.user, play_id)
    fields = {k: request.POST.get(k, "") for k in ("name", "source", "licence", "domain_rating", "domain_note",
                                                     "latency_budget_ms", "memory_budget_mb")}
    try:
        candidate = candidate_register(actor=request.user, project=play.cycle.project,
                                       licence_permits=True if request.POST.get("licence_permits") == "on" else None,
                                       **fields)
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"Candidate “{candidate.name}” registered.")
    return redirect(reverse("playbook:play", kwargs={"play_id": play.pk}) + "#candidates")


@login_required
@require_POST
def job_start(request: HtmxHttpRequest, play_id: int):
    from apps.training.services import job_start as start_service

    play = selectors.play_for_user(request.user, play_id)
    params = {}
    for name in ("folds", "seed", "hidden", "epochs", "patience", "max_stages", "epochs_per_stage", "batch_size"):
        raw = request.POST.get(name, "").strip()
        if raw:
            params[name] = int(raw) if raw.lstrip("-").isdigit() else raw
    if batching := request.POST.get("batching", "").strip():
        params["batching"] = batching
    for name in ("lr", "lr_divisor", "layer_decay", "head_lr"):
        raw = request.POST.get(name, "").strip()
        if raw:
            try:
                params[name] = float(raw)
            except ValueError:
                params[name] = raw
    try:
        job = start_service(actor=request.user, play=play, kind=request.POST.get("kind", Job.Kind.BASELINE),
                            params=params)
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"Job #{job.pk} queued.")
    return redirect(reverse("playbook:play", kwargs={"play_id": play.pk}) + "#job")

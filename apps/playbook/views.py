"""Server-rendered pages. Each view: parse, authorize (selectors), call one service, render or redirect."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.models import Role
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from apps.core import registry
from apps.core.errors import ApplicationError, ValidationFailed
from apps.core.views import HtmxHttpRequest, field_errors, flash_error
from apps.jobs.series import job_curves, parse_cursor
from apps.playbook import policy, selectors, services
from apps.playbook.catalogue import PLAYS
from apps.playbook.models import GateDecision, Play
from apps.playbook.plays import PlayModule
from apps.playbook.policy import Action


@login_required
@require_GET
def my_work(request: HtmxHttpRequest):
    return render(request, "playbook/my_work.html", {"work": selectors.my_work(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
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
                                                         Play.Status.INHERITED, Play.Status.LOCKED)), None)
    active = project.status == project.Status.ACTIVE
    return render(request, "playbook/project_detail.html", {
        "project": project,
        "cycle": cycle,
        "plays": plays,
        "current": current,
        "members": selectors.members_by_role(project),
        "roles": Role.choices,
        "can_manage_members": bool(policy.check(request.user, Action.PROJECT_MANAGE_MEMBERS, project)),
        "can_set_solo": bool(policy.check(request.user, Action.PROJECT_SET_SOLO, project)),
        "can_close": active and bool(policy.check(request.user, Action.PROJECT_CLOSE, project)),
        "can_retrain": active and bool(policy.check(request.user, Action.CYCLE_RETRAIN, project)),
        "closing_outcomes": [("abandoned", "abandoned"), ("shipped", "model shipped"),
                             ("baseline_shipped", "baseline shipped")],
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


@login_required
@require_POST
def project_signoff_approvals(request: HtmxHttpRequest, project_id: int):
    project = selectors.project_for_user(request.user, project_id)
    try:
        services.project_set_signoff_approvals(actor=request.user, project=project,
                                               approvals=request.POST.get("approvals", ""))
    except ApplicationError as exc:
        flash_error(request, exc)
    return redirect("playbook:project", project_id=project.pk)


def _play_context(request, play: Play, form: dict | None = None) -> dict:
    project = play.cycle.project
    module = registry.play_module(play.number)
    jobs = list(play.jobs.select_related("created_by").order_by("-created_at")[:10])
    latest_job = jobs[0] if jobs else None
    checks = module.checks(play)
    caps = selectors.play_capabilities(request.user, play)
    return {
        "project": project,
        "play": play,
        "definition": PLAYS[play.number],
        "caps": caps,
        "form": form if form is not None else play.deliverable,
        "jobs": jobs,
        **(job_context(request.user, latest_job) if latest_job else {"job": None}),
        "checks": checks,
        "blocking_failed": any(c.blocking and not c.passed for c in checks),
        "decisions": play.decisions.select_related("decided_by")[:10],
        **_decision_context(play, module, caps),
        "decision_labels": dict(GateDecision.Decision.choices),
        "can_upload": bool(policy.check(request.user, Action.DATASET_UPLOAD, project)),
        "workspace_template": module.workspace_template,
        "evidence_template": module.evidence_template,
        **module.workspace(request, play),
    }


def _decision_context(play: Play, module, caps) -> dict:
    """The gate's buttons (decision, label, why not), whether every decision needs a reason, and how many
    approvals the current submission has of how many it needs."""
    labels = {**PlayModule.button_labels, **module.button_labels}
    approvals_needed, so_far = selectors.submission_approvals(play, module)
    outcomes = [module.outcomes[d] for d in caps.decisions if d in module.outcomes]
    return {
        "decision_buttons": [(d, labels.get(d, d), why) for d, why in caps.decisions.items()],
        "reason_always": bool(outcomes) and all(o.needs_reason for o in outcomes),
        "approvals_needed": approvals_needed, "approvals_so_far": so_far,
    }


def job_context(user, job, *, after: int | None = None) -> dict:
    """What the progress fragment shows: the job, whether this user may cancel it, its curves (those after
    the ``after`` cursor only, when a poll names one)."""
    registered = registry.job_kinds().get(job.kind)
    charted = registered is not None and registered[1].charted
    return {
        "job": job,
        "can_cancel": not job.is_finished and bool(policy.check_job_cancel(user, job)),
        # The first render carries the (downsampled) history; a poll only the points after its cursor.
        "curves": job_curves(job, after=after) if charted else None,
        "curves_id": f"curves-data-{job.pk}",
    }


@login_required
@require_http_methods(["GET", "POST"])
def play_detail(request: HtmxHttpRequest, play_id: int):
    """The play page; a POST saves the deliverable (the form keeps what was typed if it is refused)."""
    play = selectors.play_for_user(request.user, play_id)
    if request.method == "POST":
        module = registry.play_module(play.number)
        draft = {k: (request.POST.getlist(k) if k in module.list_keys else request.POST.get(k, ""))
                 for k in module.keys if k in request.POST}
        if set(draft) - module.list_keys:
            # A form that posts ticked boxes posts nothing for a list with every box unticked.
            draft.update({k: [] for k in module.list_keys if k not in request.POST})
        try:
            play = services.play_update_deliverable(actor=request.user, play=play, deliverable=draft)
        except ApplicationError as exc:
            flash_error(request, exc, marked=True)
            return render(request, "playbook/play_detail.html",
                          {**_play_context(request, play, form={**play.deliverable, **draft}),
                           "field_errors": field_errors(exc)}, status=400)
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
    except ValidationFailed as exc:
        # The gate panel comes back with the reason as it was typed.
        flash_error(request, exc, marked=True)
        return render(request, "playbook/play_detail.html",
                      {**_play_context(request, play), "field_errors": field_errors(exc),
                       "decision_form": {"reason": request.POST.get("reason", "")}}, status=400)
    except ApplicationError as exc:
        flash_error(request, exc)
        return redirect("playbook:play", play_id=play.pk)
    play.refresh_from_db()
    if play.status == Play.Status.SUBMITTED:
        messages.success(request, "Your approval is recorded: it takes effect when another sign-off owner approves too.")
        return redirect("playbook:play", play_id=play.pk)
    messages.success(request, {
        "approve": f"Play {play.number} approved.",
        "reject": f"Play {play.number} sent back to its owner.",
        "ship_baseline": ("The baseline goes on to Play 6 instead of the candidate." if play.number == 5 else
                          "The baseline ships: the project is closed and the remaining plays are skipped."),
        "reject_to_play4": "The candidate goes back to Play 4 to be trained again.",
        "reject_to_play3": "The work goes back to Play 3: the data needs fixing.",
    }.get(decision, "Decided."))
    return redirect("playbook:project", project_id=play.cycle.project_id)


@login_required
@require_POST
def job_start(request: HtmxHttpRequest, play_id: int):
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
        services.play_job_start(actor=request.user, play=play, kind=request.POST.get("kind", ""), params=params)
    except ValidationFailed as exc:
        # The job form comes back with what was typed and each refused setting marked.
        flash_error(request, exc, marked=True)
        return render(request, "playbook/play_detail.html",
                      {**_play_context(request, play), "field_errors": field_errors(exc),
                       "job_form": request.POST.dict()}, status=400)
    except ApplicationError as exc:
        flash_error(request, exc)
    # No message on success: the job panel the page opens at says queued, then running, then finished,
    # where a "queued" line at the top would stay after the job is done.
    return redirect(reverse("playbook:play", kwargs={"play_id": play.pk}) + "#job")


@login_required
@require_GET
def job_progress(request: HtmxHttpRequest, job_id: int):
    """The polled progress fragment. Once the job has finished, the response stops the polling (286)
    and tells the page to refresh its gate panel."""
    job = selectors.job_for_user(request.user, job_id)
    # Only the status block is swapped: the chart's canvas stays on the page and gets the new points.
    response = render(request, "playbook/_job_progress.html#job-status",
                      job_context(request.user, job, after=parse_cursor(request.GET.get("after"))))
    if job.is_finished and request.htmx:
        stop = HttpResponseStopPolling(response.content)
        return trigger_client_event(stop, "job-finished", {"job": job.pk, "status": job.status})
    return response


@login_required
@require_POST
def job_cancel(request: HtmxHttpRequest, job_id: int):
    job = selectors.job_for_user(request.user, job_id)
    try:
        services.job_cancel(actor=request.user, job=job)
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.info(request, f"Cancellation of job #{job.pk} requested.", extra_tags="transient")
    if job.play_id:
        return redirect("playbook:play", play_id=job.play_id)
    return redirect("playbook:project", project_id=job.project_id)


@login_required
@require_POST
def project_close(request: HtmxHttpRequest, project_id: int):
    project = selectors.project_for_user(request.user, project_id)
    try:
        services.project_close(actor=request.user, project=project, outcome=request.POST.get("outcome", ""),
                               reason=request.POST.get("reason", ""))
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, "The project is closed.")
    return redirect("playbook:project", project_id=project.pk)


@login_required
@require_POST
def project_retrain(request: HtmxHttpRequest, project_id: int):
    project = selectors.project_for_user(request.user, project_id)
    try:
        cycle = services.cycle_open_retrain(actor=request.user, project=project, reason=request.POST.get("reason", ""))
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"Cycle {cycle.number} opened: the data pipeline (Play 3) is ready again.")
    return redirect("playbook:project", project_id=project.pk)


@login_required
@require_GET
def portfolio(request: HtmxHttpRequest):
    """Every project at a glance, for admins and leads (apps.playbook.portfolio); others get a 403, as on
    the audit trail."""
    from django.core.exceptions import PermissionDenied

    from apps.playbook.portfolio import can_view_portfolio, openable_projects, portfolio as read_portfolio

    if not can_view_portfolio(request.user):
        raise PermissionDenied("Admins and leads only.")
    view = read_portfolio()
    return render(request, "playbook/portfolio.html", {"view": view, "openable": openable_projects(request.user, view)})

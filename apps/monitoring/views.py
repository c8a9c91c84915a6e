"""Play 6's page actions: deploy a package as the challenger, promote it, roll production back, and
download a package."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.core.errors import ApplicationError
from apps.core.views import field_errors, flash_error
from apps.monitoring import selectors, services


def _back(deployment_or_package):
    play = deployment_or_package.package.play if hasattr(deployment_or_package, "package") else deployment_or_package.play
    return redirect("playbook:play", play_id=play.pk)


@login_required
@require_POST
def package_deploy(request, package_id: int):
    package = selectors.package_for_user(request.user, package_id)
    try:
        deployment = services.deployment_create(actor=request.user, package=package, reason=request.POST.get("reason", ""))
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"Package #{package.pk} is deployed as the challenger (deployment #{deployment.pk}).")
    return _back(package)


@login_required
@require_POST
def deployment_promote(request, deployment_id: int):
    deployment = selectors.deployment_for_user(request.user, deployment_id)
    try:
        services.deployment_promote(actor=request.user, deployment=deployment, reason=request.POST.get("reason", ""))
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"Deployment #{deployment.pk} is now production.")
    return _back(deployment)


@login_required
@require_POST
def deployment_rollback(request, deployment_id: int):
    deployment = selectors.deployment_for_user(request.user, deployment_id)
    try:
        restored = services.deployment_rollback(actor=request.user, deployment=deployment,
                                                reason=request.POST.get("reason", ""))
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"Production is back on deployment #{restored.pk}.")
    return _back(deployment)


@login_required
@require_GET
def package_download(request, package_id: int):
    return selectors.package_download(selectors.package_for_user(request.user, package_id))



@login_required
@require_POST
def play6_thresholds(request, play_id: int):
    """Save the drift thresholds and the alert policy from the Play 6 page: one field per threshold and
    policy field, an empty one meaning "use the default". Only those two deliverable keys are posted, so the
    floor, the note and the chosen package stay as they are. A refused form comes back with what was typed."""
    from django.http import Http404
    from django.shortcuts import render

    from apps.playbook import selectors as play_selectors
    from apps.playbook import services as play_services
    from apps.playbook.views import _play_context
    from apps.monitoring.play6 import POLICY_GLOSSES, SIGNAL_GLOSSES

    play = play_selectors.play_for_user(request.user, play_id)
    if play.number != 6:
        raise Http404("Drift thresholds belong to Play 6.")
    typed = {name: request.POST.get(name, "").strip()
             for name in [f"drift_thresholds.{k}" for k in SIGNAL_GLOSSES] + [f"alert_policy.{k}" for k in POLICY_GLOSSES]}
    draft = {"drift_thresholds": {}, "alert_policy": {}}
    for name, raw in typed.items():
        if raw:
            group, key = name.split(".", 1)
            draft[group][key] = raw
    try:
        play_services.play_update_deliverable(actor=request.user, play=play, deliverable=draft)
    except ApplicationError as exc:
        flash_error(request, exc, marked=True)
        play.refresh_from_db()
        context = {**_play_context(request, play), "field_errors": field_errors(exc)}
        for row in context["threshold_fields"] + context["policy_fields"]:
            row["value"] = typed[row["name"]]
        context["thresholds_error"] = exc.message  # said again beside the form, not only at the page's top
        return render(request, "playbook/play_detail.html", context, status=400)
    messages.success(request, "Drift thresholds and alert policy saved.")
    return redirect(reverse("playbook:play", kwargs={"play_id": play.pk}) + "#thresholds")

SIGNAL_TITLES = {"text": "Input text drift (domain classifier AUC)", "embedding": "Embedding drift (MMD²)",
                 "prediction_mix": "Predicted-label mix (PSI)", "confidence": "Drop in mean confidence",
                 "performance": "Live metric"}


@login_required
@require_GET
def deployment_monitoring(request, deployment_id: int):
    """A deployment's monitoring page: each signal over the windows with its threshold, the alerts, what
    drifted in the latest judged window, and the cycles the monitor opened."""
    from django.shortcuts import render
    from django.utils.safestring import mark_safe

    from apps.core import registry
    from apps.monitoring.charts import signal_chart

    deployment = selectors.deployment_for_user(request.user, deployment_id)
    windows = list(deployment.windows.order_by("index"))
    policy = registry.play_module(6).alert_policy(deployment.package.play)
    charts = []
    for signal, title in SIGNAL_TITLES.items():
        points = []
        for w in windows:
            value = ((w.result.get("summary") or {}).get("values") or {}).get(signal) or {}
            number = value.get("value") if signal == "performance" else value.get("effect")
            points.append((w.index, number, signal in w.result.get("breached", [])))
        threshold = policy.performance_floor if signal == "performance" else policy.thresholds.get(signal)
        charts.append(mark_safe(signal_chart(title, points, threshold)))
    latest = next((w for w in reversed(windows) if w.judged), None)
    text = ((latest.result.get("signals") or {}).get("text") or {}) if latest else {}
    alerts = list(deployment.alerts.select_related("window", "cycle").order_by("-created_at")[:50])
    # A retrain trigger links to the cycle it opened: that cycle's first play with work in it (Plays 1 and 2
    # carry over), so the link lands in the cycle itself rather than on whatever cycle is current now.
    opened = {c.pk: c.plays.exclude(status__in=["inherited", "skipped"]).order_by("number").first()
              for c in {a.cycle for a in alerts if a.cycle is not None}}
    for alert in alerts:
        alert.cycle_play = opened.get(alert.cycle_id)
    return render(request, "monitoring/deployment_monitoring.html", {
        "deployment": deployment, "project": deployment.project, "windows": windows, "charts": [c for c in charts if c],
        "alerts": alerts, "latest": latest, "explanation": text.get("explanation") or {}, "policy": policy,
        "can_add_production_data": _can_add_production_data(request.user, deployment),
    })


@login_required
@require_POST
def deployment_production_data(request, deployment_id: int):
    """The monitoring page's button: the deployment's labelled production predictions become a new version
    of the project's dataset (chosen in Play 3 when that play is open); then on to Play 3 to seal it."""
    from apps.monitoring.production_data import production_data_add
    from apps.playbook.models import Play

    deployment = selectors.deployment_for_user(request.user, deployment_id)
    try:
        dataset = production_data_add(actor=request.user, deployment=deployment)
    except ApplicationError as exc:
        flash_error(request, exc)
        return redirect("playbook:deployment-monitoring", deployment_id=deployment.pk)
    messages.success(request, f"Dataset #{dataset.pk} ({dataset.rows} rows, {dataset.rows - dataset.parent.rows} "
                              f"from production) is the new version of dataset #{dataset.parent_id}: seal it in Play 3.")
    play = Play.objects.filter(cycle__project=deployment.project, number=3).order_by("-cycle__number").first()
    if play is None:
        return redirect("playbook:deployment-monitoring", deployment_id=deployment.pk)
    return redirect("playbook:play", play_id=play.pk)


def _can_add_production_data(user, deployment) -> bool:
    from apps.playbook import policy
    from apps.playbook.policy import Action

    return (bool(policy.check(user, Action.PRODUCTION_DATA_ADD, deployment.project))
            and deployment.project.status == deployment.project.Status.ACTIVE)

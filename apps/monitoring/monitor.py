"""The monitor: beat closes windows of each live deployment's production predictions and starts a
drift_check job on each (the system is the actor); the job judges the window against the reference the
model was approved on (workers.engine.drift) and records it with the alerts the policy fired. A breach of
the live-metric floor opens the next cycle (cycle_open_retrain, by the system), within a budget.
"""
import json
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core import storage
from apps.core.errors import ApplicationError, ValidationFailed
from apps.jobs.kinds import JobInputError, JobOutcome
from apps.jobs.services import SYSTEM, WORKER, job_enqueue
from apps.monitoring.models import Alert, Deployment, Feedback, MonitoringWindow, PredictionLog
from apps.playbook.plays import reject_unknown

LIVE = (Deployment.Stage.CHALLENGER, Deployment.Stage.PRODUCTION)


def _play6():
    from apps.core import registry

    return registry.play_module(6)


def window_settings(policy) -> tuple[int, timedelta]:
    """How many predictions close a window, and after how long a smaller one closes anyway."""
    size = max(policy.min_window, int(getattr(settings, "PLAYBOOK_WINDOW_SIZE", 500)))
    return size, timedelta(seconds=int(getattr(settings, "PLAYBOOK_WINDOW_MAX_AGE_SECONDS", 86_400)))


def monitoring_tick(now=None) -> list[int]:
    """Beat's call: start a drift_check for every live deployment whose next window has closed (by count
    or by age, whichever first). Returns the jobs started."""
    now = now or timezone.now()
    started = []
    for deployment in Deployment.objects.filter(stage__in=LIVE, project__status="active").select_related(
            "package__play__cycle__project"):
        policy = _play6().alert_policy(deployment.package.play)
        size, max_age = window_settings(policy)
        last = deployment.windows.order_by("-index").values_list("last_prediction", flat=True).first() or 0
        pending = PredictionLog.objects.filter(deployment=deployment, pk__gt=last).order_by("pk")
        ids = list(pending.values_list("pk", flat=True)[:size])
        if not ids:
            continue
        oldest = pending.values_list("received_at", flat=True).first()
        if len(ids) < size and now - oldest < max_age:
            continue
        try:
            with transaction.atomic(durable=True):
                job = job_enqueue("drift_check", deployment, {"after": last, "upto": ids[-1]}, requested_by=None,
                                  play=deployment.package.play)
            started.append(job.pk)
        except ApplicationError:  # a check of this deployment is already queued or running
            continue
    return started


def drift_check_params(deployment, params: dict) -> dict:
    reject_unknown(params, {"after", "upto", "permutations", "seed"}, "drift_check")
    after, upto = params.get("after", 0), params.get("upto")
    if not isinstance(after, int) or not isinstance(upto, int) or not 0 <= after < upto:
        raise ValidationFailed("Give the window as two prediction ids, after and upto, with after below upto.")
    permutations = params.get("permutations", 200)
    if not isinstance(permutations, int) or not 50 <= permutations <= 2000:
        raise ValidationFailed("Give the number of permutations as a whole number from 50 to 2,000.")
    return {"after": after, "upto": upto, "permutations": permutations, "seed": int(params.get("seed", 0))}


def _reference(deployment: Deployment, job) -> dict:
    """What the model was approved on: its own probabilities on the sealed test split (from Play 5's stored
    predictions), the embedding sample in its package, and production-like texts (Play 3's production
    sample, else the validation split) for the text signal. The test split's texts are not read here."""
    from apps.datasets.curation import split_rows
    from apps.datasets.models import ResemblanceReport, SplitSet
    from apps.playbook.selectors import cycle_inputs
    from workers.engine.packaging import load_reference

    package = deployment.package
    evaluation = package.evaluation
    with open(storage.absolute(evaluation.predictions.path), encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    probs = np.array([r["predictions"][package.model_name]["probabilities"] for r in rows])
    stored, embeddings = load_reference(storage.absolute(package.path))
    inputs = cycle_inputs(package.play.cycle)
    texts = None
    p3 = inputs.get(3)
    report = ResemblanceReport.objects.filter(pk=getattr(p3, "resemblance_report", None)).select_related(
        "production").first() if p3 else None
    if report is not None and report.production.rows >= 100:
        texts = [r["text"] for r in report.production.read_rows()]
    else:
        val = SplitSet.objects.get(pk=evaluation.split_set_id).splits.get(name="val")
        texts = [r["text"] for r in split_rows(val, job=job, purpose="drift reference")]
    return {"texts": texts, "probs": probs, "embeddings": embeddings, "embedding_recipe": stored.get("embeddings") or {}}


def _window_embeddings(deployment: Deployment, texts: list[str], info: dict):
    """The window's embeddings by the package's encoder, as its reference sample was embedded."""
    if deployment.package.shipped != "candidate":
        return None
    from workers.engine.encoders import load_encoder

    encoder = load_encoder(str(storage.absolute(deployment.package.path) / "model"))
    return encoder.encode(texts, max_length=info.get("max_length", 128), pooling=info.get("pooling", "mean")).numpy()


def run_drift_check(job, report) -> JobOutcome:
    from apps.playbook.selectors import cycle_inputs
    from workers.engine.drift import drift_check

    deployment = Deployment.objects.select_related("package__play__cycle__project", "package__evaluation").get(
        pk=int(job.subject_id))
    p = job.params
    rows = list(PredictionLog.objects.filter(deployment=deployment, pk__gt=p["after"], pk__lte=p["upto"]).order_by("pk"))
    if not rows:
        raise JobInputError("The window holds no predictions.")
    labels = list(deployment.package.label_names)
    truth = dict(Feedback.objects.filter(deployment=deployment, external_id__in=[r.external_id for r in rows])
                 .values_list("external_id", "label"))
    report(0, {"rows": len(rows)}, 0.1, "Reading the reference")
    reference = _reference(deployment, job)
    texts = [r.text for r in rows]
    recipe = reference.pop("embedding_recipe")
    report(1, {}, 0.3, "Embedding the window")
    window = {"texts": texts, "probs": np.array([r.probabilities for r in rows]),
              "embeddings": _window_embeddings(deployment, texts, recipe) if reference["embeddings"] is not None else None,
              "labels": [labels.index(truth[r.external_id]) if r.external_id in truth else None for r in rows],
              "time": rows[-1].at}
    if window["embeddings"] is None:
        reference["embeddings"] = None
    history = [w.result.get("summary") for w in deployment.windows.order_by("index") if w.result.get("summary")]
    p1 = cycle_inputs(deployment.package.play.cycle).get(1)
    positive = labels.index(p1.positive_label) if p1 and p1.positive_label in labels else None
    policy = _play6().alert_policy(deployment.package.play)
    report(2, {}, 0.5, "Judging the window")
    result = drift_check(reference, window, policy=policy, metric=getattr(p1, "metric", "macro_f1") or "macro_f1",
                         positive=positive, label_names=labels, permutations=p["permutations"], seed=p["seed"],
                         history=history)
    report(3, {}, 1.0, "Judged" if result["judged"] else "Too few rows to judge")
    facts = {"first_at": rows[0].at, "last_at": rows[-1].at, "last_prediction": rows[-1].pk, "rows": len(rows),
             "labelled": sum(label is not None for label in window["labels"]), "judged": result["judged"]}

    def record(job):
        window_record(job=job, deployment=deployment, facts=facts, result=result)

    return JobOutcome({"rows": len(rows), "judged": result["judged"], "breached": result["breached"],
                       "retrain": bool((result.get("decision") or {}).get("retrain"))}, record=record)


def window_record(*, job, deployment: Deployment, facts: dict, result: dict) -> MonitoringWindow:
    """Worker side, in the job's success transaction: the window, its alerts, and (after commit) the
    retrain the policy triggered."""
    index = (deployment.windows.order_by("-index").values_list("index", flat=True).first() or 0) + 1
    window = MonitoringWindow.objects.create(deployment=deployment, index=index, job=job, result=result, **facts)
    decision = result.get("decision") or {}
    retrain = bool(decision.get("retrain"))
    alerts = [Alert.objects.create(deployment=deployment, window=window, signal=a["signal"], audience=a["audience"],
                                   reason=a["reason"], retrain=retrain and a["signal"] == "performance")
              for a in decision.get("alerts", [])]
    audit_record(actor=WORKER, action="monitoring.window_judged", project=deployment.project, obj=window,
                 after={"deployment": deployment.pk, "index": index, "rows": facts["rows"], "judged": facts["judged"],
                        "breached": result.get("breached", []), "alerts": [a.signal for a in alerts],
                        "retrain": bool(decision.get("retrain"))})
    if retrain:
        trigger = next((a for a in alerts if a.retrain), None) or Alert.objects.create(
            deployment=deployment, window=window, signal="performance", audience="model_owner",
            reason=decision.get("retrain_reason") or "", retrain=True)
        transaction.on_commit(lambda: retrain_from_alert(trigger.pk))
    return window


def retrain_from_alert(alert_id: int) -> None:
    """Open the next cycle for a retrain trigger (the system is the actor), unless the budget of
    system-opened cycles is spent; either way the alert says what happened."""
    from apps.playbook.models import Cycle
    from apps.playbook.services import cycle_open_retrain

    alert = Alert.objects.select_related("deployment__project", "window").get(pk=alert_id)
    project = alert.deployment.project
    budget = int(getattr(settings, "PLAYBOOK_RETRAIN_BUDGET", 2))
    days = int(getattr(settings, "PLAYBOOK_RETRAIN_BUDGET_DAYS", 30))
    recent = Cycle.objects.filter(project=project, trigger__kind="retrain", trigger__by=SYSTEM,
                                  created_at__gte=timezone.now() - timedelta(days=days)).count()
    signal = {"alert": alert.pk, "window": alert.window.index, "deployment": alert.deployment_id,
              "reason": alert.reason}
    if recent >= budget:
        _note(alert, f"Not opened: the budget of {budget} system-opened cycles in {days} days is spent.")
        return
    try:
        cycle = cycle_open_retrain(actor=None, project=project, reason=f"Monitor: {alert.reason}"[:180],
                                   signal=signal)
    except ApplicationError as exc:
        _note(alert, f"Not opened: {exc.message}")
        return
    Alert.objects.filter(pk=alert.pk).update(cycle=cycle)


def _note(alert: Alert, text: str) -> None:
    with transaction.atomic(durable=True):
        Alert.objects.filter(pk=alert.pk).update(reason=f"{alert.reason} — {text}")
        audit_record(actor=SYSTEM, action="monitoring.retrain_skipped", project=alert.deployment.project,
                     obj=alert, after={"why": text})

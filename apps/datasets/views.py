"""Play 3's page actions and the auditor's blind relabelling page."""
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.errors import ApplicationError, Conflict, NotAllowed, ValidationFailed
from apps.core.views import HtmxHttpRequest, field_errors, flash_error
from apps.datasets import curation, play3, selectors
from apps.datasets.models import LabelAudit
from apps.playbook import selectors as play_selectors


def _back(play, anchor: str):
    return redirect(reverse("playbook:play", kwargs={"play_id": play.pk}) + anchor)


def _play3_dataset_action(anchor: str):
    """A Play 3 form action on the chosen dataset version: the view gets (request, play, dataset) and the
    browser goes back to ``anchor`` on the play page; with no version chosen yet, it only says so. An action
    may answer itself instead (a refused form, re-rendered with what was typed)."""
    def decorate(action):
        @login_required
        @require_POST
        @wraps(action)
        def view(request: HtmxHttpRequest, play_id: int):
            play = play_selectors.play_for_user(request.user, play_id)
            dataset = play3.PLAY.state(play)["dataset"] if play.number == 3 else None
            if dataset is None:
                messages.error(request, "Choose the dataset version first.")
            elif (response := action(request, play, dataset)) is not None:
                return response
            return _back(play, anchor)
        return view
    return decorate


def _refused_form(request, play, exc: ValidationFailed):
    """The play page again, the refused form keeping what was typed and each refused field marked."""
    from apps.playbook.views import _play_context

    flash_error(request, exc, marked=True)
    return render(request, "playbook/play_detail.html", {**_play_context(request, play),
                  "field_errors": field_errors(exc), "job_form": request.POST.dict()}, status=400)


@_play3_dataset_action("#splits")
def play3_seal(request: HtmxHttpRequest, play, dataset):
    seed = request.POST.get("seed", "0").strip()
    try:
        job = curation.dataset_seal(actor=request.user, dataset=dataset, train=request.POST.get("train"),
                                    val=request.POST.get("val"), test=request.POST.get("test"),
                                    seed=int(seed) if seed.isdigit() else seed)
    except ValidationFailed as exc:
        if exc.fields:
            return _refused_form(request, play, exc)
        flash_error(request, exc)
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        kept = (f", keeping split set #{job.params['extends']} fixed: only the new rows are split"
                if job.params.get("extends") else "")
        messages.success(request, f"Sealing the splits (job #{job.pk}, seed {job.params['seed']}{kept}): a worker "
                                  "splits them and scans for leakage; the page updates when it is done.",
                         extra_tags="transient")


@_play3_dataset_action("#audit")
def play3_audit(request: HtmxHttpRequest, play, dataset):
    try:
        audit = curation.label_audit_start(actor=request.user, dataset=dataset, size=request.POST.get("size"),
                                           auditor=request.POST.get("auditor", ""))
    except ValidationFailed as exc:
        if exc.fields:
            return _refused_form(request, play, exc)
        flash_error(request, exc)
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        from apps.playbook.services import play_update_deliverable

        messages.success(request, f"Audit #{audit.pk} of {audit.size} items handed to {audit.auditor.get_username()}; "
                                  "a worker is picking the sample.", extra_tags="transient")
        try:
            play_update_deliverable(actor=request.user, play=play, deliverable={"audit": audit.pk})
        except ApplicationError as exc:
            flash_error(request, exc)


@login_required
@require_POST
def play3_resolve(request: HtmxHttpRequest, play_id: int, audit_id: int):
    play = play_selectors.play_for_user(request.user, play_id)
    audit = selectors.audit_for_user(request.user, audit_id)
    item = request.POST.get("item", "")
    try:
        curation.label_audit_resolve(actor=request.user, audit=audit, item_id=int(item) if item.isdigit() else -1,
                                     action=request.POST.get("action", ""), note=request.POST.get("note", ""))
    except ApplicationError as exc:
        flash_error(request, exc)
    return _back(play, "#audit")


@login_required
@require_POST
def audit_cancel(request: HtmxHttpRequest, audit_id: int):
    """The data owner withdraws an audit before its first answer; back to the Play 3 page."""
    audit = selectors.audit_for_user(request.user, audit_id)
    try:
        curation.label_audit_cancel(actor=request.user, audit=audit)
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"Audit #{audit.pk} cancelled: start a new one when ready.")
    return redirect(selectors.audit_play_url(audit))


@login_required
@require_POST
def audit_reassign(request: HtmxHttpRequest, audit_id: int):
    """The data owner hands an audit to another member before its first answer; back to the Play 3 page."""
    audit = selectors.audit_for_user(request.user, audit_id)
    try:
        audit = curation.label_audit_reassign(actor=request.user, audit=audit, auditor=request.POST.get("auditor", ""))
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"Audit #{audit.pk} handed to {audit.auditor.get_username()}.")
    return redirect(selectors.audit_play_url(audit))


@_play3_dataset_action("#balance")
def play3_production(request: HtmxHttpRequest, play, dataset) -> None:
    try:
        production, job = curation.production_sample_compare(actor=request.user, dataset=dataset,
                                                             upload=request.FILES.get("file"))
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"Production sample stored ({production.rows} rows); a worker compares it with "
                                  f"the test split (job #{job.pk}) and the page updates when it is done.",
                         extra_tags="transient")


@login_required
@require_http_methods(["GET", "POST"])
def audit_page(request: HtmxHttpRequest, audit_id: int):
    """The auditor's page: one item at a time; a POST answers it and (with htmx) swaps in the next."""
    audit = selectors.audit_for_user(request.user, audit_id)
    if request.method == "POST":
        item = request.POST.get("item", "")
        try:
            curation.label_audit_answer(actor=request.user, audit=audit, item_id=int(item) if item.isdigit() else -1,
                                        label=request.POST.get("label", ""))
        except ApplicationError as exc:
            flash_error(request, exc)
        if not request.htmx:
            return redirect("datasets:audit", audit_id=audit.pk)
    try:
        nxt = curation.label_audit_next(actor=request.user, audit=audit)
    except Conflict:
        if audit.status not in (LabelAudit.Status.PREPARING, LabelAudit.Status.FAILED, LabelAudit.Status.CANCELLED):
            raise
        nxt = None  # the template shows the preparing (polling), failed or cancelled state
    context = {"audit": audit, "labels": audit.dataset.labels, "item": nxt[0] if nxt else None,
               "text": nxt[1] if nxt else "", "answered": audit.items.exclude(answered_at=None).count()}
    template = "datasets/audit.html#audit-item" if request.htmx else "datasets/audit.html"
    return render(request, template, context)


@login_required
@require_POST
def play_dataset_upload(request: HtmxHttpRequest, play_id: int):
    """The upload form of a play's workspace (Plays 1 and 3): only those who may work on the play use it
    here; the new dataset becomes the play's dataset when it has none yet."""
    from apps.core import registry
    from apps.datasets.services import dataset_upload
    from apps.playbook import policy, selectors
    from apps.playbook.policy import Action
    from apps.playbook.services import play_update_deliverable

    play = selectors.play_for_user(request.user, play_id)
    verdict = policy.check(request.user, Action.PLAY_WORK, play.cycle.project, play=play)
    if not verdict:
        raise NotAllowed(verdict.reason)
    try:
        dataset = dataset_upload(actor=request.user, project=play.cycle.project, upload=request.FILES.get("file"),
                                 name=request.POST.get("name", ""),
                                 text_column=request.POST.get("text_column", "text"),
                                 label_column=request.POST.get("label_column", "label"))
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        note = f" Warnings: {' '.join(dataset.warnings)}" if dataset.warnings else ""
        messages.success(request, f"Uploaded “{dataset.name}”: {dataset.rows} rows, {len(dataset.labels)} labels.{note}")
        key = registry.play_module(play.number).upload_key
        if key and not play.deliverable.get(key):
            try:
                play_update_deliverable(actor=request.user, play=play, deliverable={key: dataset.pk})
            except ApplicationError as exc:
                flash_error(request, exc)
    return redirect(reverse("playbook:play", kwargs={"play_id": play.pk}) + "#data")

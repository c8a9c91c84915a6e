from apps.core.errors import NotFound
from apps.datasets.models import Dataset, LabelAudit
from apps.playbook import policy


def dataset_for_user(user, dataset_id) -> Dataset:
    try:
        dataset = Dataset.objects.select_related("project", "uploaded_by").get(pk=int(dataset_id))
    except (Dataset.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such dataset.") from None
    if not policy.can_view(user, dataset.project):
        raise NotFound("No such dataset.")
    return dataset


def audit_for_user(user, audit_id) -> LabelAudit:
    try:
        audit = LabelAudit.objects.select_related("dataset__project", "auditor").get(pk=int(audit_id))
    except (LabelAudit.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such audit.") from None
    if not policy.can_view(user, audit.dataset.project):
        raise NotFound("No such audit.")
    return audit


def audit_summary(audit: LabelAudit) -> dict:
    """The audit's results as the API and the page show them (the disagreements with their resolutions)."""
    r = audit.results or {}
    items = {i.pk: i for i in audit.items.all()}
    answered = sum(1 for i in items.values() if i.answered_at)
    disagreements = [
        {"item": i.pk, "row": i.row_index, "part": i.part, "original": i.original_label, "answer": i.answer,
         "resolution": i.resolution or None, "note": i.resolution_note}
        for i in items.values() if i.answered_at and i.answer != i.original_label
    ] if audit.status == LabelAudit.Status.COMPLETE else []
    return {
        "id": audit.pk, "dataset": audit.dataset_id, "auditor": audit.auditor.get_username(), "status": audit.status,
        "size": audit.size, "answered": answered, "agreement": r.get("agreement"),
        "agreement_ci": r.get("agreement_ci"), "kappa": r.get("kappa"), "flagged_precision": r.get("flagged_precision"),
        "random_n": r.get("random_n"), "flagged_n": r.get("flagged_n"), "disagreements": disagreements,
        "relabelled_dataset": r.get("relabelled_dataset"), "message": audit.message, "ranked_by": r.get("ranked_by"),
    }

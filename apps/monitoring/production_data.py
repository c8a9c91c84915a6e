"""The loop's data step: a deployment's production predictions that came back with their true label
(Feedback) become newly labelled rows of the project's dataset, as a new version (its parent the version
the data work builds on), which Play 3 of the retrain cycle then seals (keeping the earlier splits fixed and
the earlier test set aside as the golden set).
"""
from dataclasses import dataclass, field

from django.db.models import OuterRef, Subquery

from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.datasets.models import Dataset
from apps.monitoring.models import Deployment, Feedback, PredictionLog
from apps.playbook import policy
from apps.playbook.policy import Action


@dataclass
class Harvest:
    """The rows a deployment's labelled predictions add, and why the others were left out."""

    rows: list = field(default_factory=list)
    labelled: int = 0  # predictions with feedback (since ``since``)
    duplicates: int = 0  # a text already taken from an earlier prediction of the same run
    already_in_dataset: int = 0
    conflicting: int = 0  # one text, two different true labels: left out, the label is in doubt
    unknown_label: int = 0  # a true label the dataset does not have

    def skipped(self) -> dict:
        return {"duplicates": self.duplicates, "already_in_dataset": self.already_in_dataset,
                "conflicting_labels": self.conflicting, "unknown_label": self.unknown_label}


def labelled_production_rows(deployment: Deployment, parent: Dataset, *, since=None) -> Harvest:
    """The deployment's predictions that have feedback, oldest first, as dataset rows {text, label (the
    feedback's), meta {source: "production", deployment, prediction (the client's id), at}}: one per text
    (the first), none for a text ``parent`` already holds, for a text whose feedback disagrees, or for a
    label ``parent`` does not know."""
    truth = Feedback.objects.filter(deployment=deployment, external_id=OuterRef("external_id")).values("label")[:1]
    logged = (PredictionLog.objects.filter(deployment=deployment).annotate(truth=Subquery(truth))
              .filter(truth__isnull=False))
    if since is not None:
        logged = logged.filter(at__gte=since)
    known = {r["text"] for r in parent.read_rows()}
    labels = set(parent.labels)
    harvest, first_label, doubtful = Harvest(), {}, set()
    for external_id, text, label, at in logged.order_by("at", "pk").values_list("external_id", "text", "truth",
                                                                                  "at").iterator():
        harvest.labelled += 1
        if text in known:
            harvest.already_in_dataset += 1
        elif label not in labels:
            harvest.unknown_label += 1
        elif text in first_label:
            harvest.duplicates += 1
            if first_label[text] != label:
                doubtful.add(text)
        else:
            first_label[text] = label
            harvest.rows.append({"text": text, "label": label,
                                 "meta": {"source": "production", "deployment": str(deployment.pk),
                                          "prediction": external_id, "at": at.isoformat()}})
    if doubtful:
        harvest.conflicting = sum(1 for r in harvest.rows if r["text"] in doubtful)
        harvest.rows = [r for r in harvest.rows if r["text"] not in doubtful]
    return harvest


def production_data_add(*, actor, deployment: Deployment, since=None) -> Dataset:
    """The data owner adds the deployment's labelled production predictions (those with feedback, from
    ``since`` on if given) to the dataset the project's data work builds on (the one chosen in the current
    cycle's Play 3, else the one the last approved Play 3 handed on), as a new version with that parent.

    When the current cycle's Play 3 is open to the actor, the new version becomes its chosen dataset (through
    the deliverable service), so sealing it is the next step. Nothing new to add raises ValidationFailed
    saying what was left out, and nothing is stored."""
    from apps.datasets.selectors import curated_dataset
    from apps.datasets.services import dataset_append_rows

    project = deployment.project
    verdict = policy.check(actor, Action.PRODUCTION_DATA_ADD, project)
    if not verdict:
        raise NotAllowed(verdict.reason)
    if project.status != project.Status.ACTIVE:
        raise Conflict("This project is closed.")
    parent = curated_dataset(project)
    if parent is None:
        raise Conflict("There is no labelled dataset to add to yet: Play 3 chooses one (or hands one on).")
    harvest = labelled_production_rows(deployment, parent, since=since)
    if not harvest.rows:
        left_out = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in harvest.skipped().items() if n)
        raise ValidationFailed(
            f"No new labelled production data to add: deployment #{deployment.pk} has {harvest.labelled} "
            f"prediction(s) with feedback{' since ' + since.isoformat() if since else ''}"
            + (f", left out: {left_out}" if left_out else "") + ".")
    dataset = dataset_append_rows(
        actor=actor, parent=parent, rows=harvest.rows,
        name=f"{parent.name} + production data of deployment #{deployment.pk}",
        source=f"production data of deployment #{deployment.pk}",
        extra={"deployment": deployment.pk, "since": since.isoformat() if since else None,
               "labelled_predictions": harvest.labelled, "skipped": harvest.skipped()})
    _choose_in_play3(actor, project, dataset)
    return dataset


def _choose_in_play3(actor, project, dataset: Dataset) -> None:
    """Make ``dataset`` the current cycle's Play 3 choice when the actor may work that play now."""
    from apps.playbook.models import Play
    from apps.playbook.selectors import current_cycle
    from apps.playbook.services import play_update_deliverable

    cycle = current_cycle(project)
    play = cycle.plays.filter(number=3).first() if cycle else None
    if play is None or play.status not in (Play.Status.READY, Play.Status.IN_PROGRESS, Play.Status.REJECTED):
        return
    if not policy.check(actor, Action.PLAY_WORK, project, play=play):
        return
    play_update_deliverable(actor=actor, play=play, deliverable={"dataset": dataset.pk})

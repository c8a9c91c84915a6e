"""Building test state through the services, as a user (or the worker) would."""
from apps.datasets.services import dataset_upload
from apps.playbook.services import play_submit, play_update_deliverable
from apps.jobs.runner import job_execute
from apps.playbook.services import play_job_start as job_start

GOOD_DELIVERABLE = {
    "problem_statement": "Route incoming support tickets to the right queue so that agents stop triaging by hand.",
    "metric": "macro_f1",
    "direction": "higher",
    "target": 0.99,
    "min_margin": 0.02,
}


def run_job(job_id: int):
    """Run a queued job the way a worker does and return it finished (in a transactional test a live
    worker may have claimed it first: then it is waited for)."""
    from apps.jobs.models import Job

    if job_execute(job_id) == "skipped":
        from tests.conftest import wait_for_job

        wait_for_job(job_id)
    return Job.objects.get(pk=job_id)


def prepare_audit(audit_id: int) -> str:
    """Let the worker run a label audit's prepare_audit job (again, if it already ran: a redelivered
    message changes nothing); returns the audit's status afterwards."""
    from apps.datasets.models import LabelAudit
    from apps.jobs.models import Job

    job = Job.objects.get(kind="prepare_audit", subject_type="labelaudit", subject_id=str(audit_id))
    run_job(job.pk)
    return LabelAudit.objects.get(pk=audit_id).status


def seal_now(actor, dataset, *, train=0.7, val=0.15, test=0.15, seed=0):
    """Seal a dataset version through its service and the seal job; returns the sealed split set."""
    from apps.datasets.curation import dataset_seal

    job = run_job(dataset_seal(actor=actor, dataset=dataset, train=train, val=val, test=test, seed=seed).pk)
    assert job.status == "succeeded", job.error
    return dataset.split_sets.get(pk=job.result["split_set"])


def measure_baseline(team, upload, *, target: float = 0.99, folds: int = 3):
    """Play 1 up to a measured baseline: deliverable, upload, baseline job run by the worker's code path."""
    mo, play = team["mo"], team["play1"]
    dataset = dataset_upload(actor=mo, project=team["project"], upload=upload())
    play_update_deliverable(actor=mo, play=play, deliverable={**GOOD_DELIVERABLE, "target": target,
                                                               "baseline_dataset": dataset.pk})
    job = job_start(actor=mo, play=play, kind="baseline", params={"folds": folds})
    status = job_execute(job.pk)
    if status == "skipped":  # in a transactional test a live worker may have claimed it first
        from tests.conftest import wait_for_job

        status = wait_for_job(job.pk).status
    assert status == "succeeded"
    play.refresh_from_db()
    return play


def submitted_play1(team, upload, *, target: float = 0.99):
    play = measure_baseline(team, upload, target=target)
    play_submit(actor=team["mo"], play=play)
    play.refresh_from_db()
    return play


def passing_play(number: int):
    """Stands in for a play's real module in tests that only need to walk past its gate (its own tests
    cover it): any draft is accepted, one passing check; when a draft was given, the real module's
    hand-off is frozen from it (Play 2's chosen candidate, say)."""
    from apps.core import registry
    from apps.playbook.plays import Check, PlayModule

    real = registry.play_module(number)

    class Passing(PlayModule):
        job_kinds = real.job_kinds  # the play's jobs still run; only its gate is waved through
        Outputs = real.Outputs
        outputs_version = real.outputs_version

        def clean(self, play, updates):
            return dict(updates)

        def checks(self, play):
            return [Check("ok", "ok", True)]

        def outputs(self, play):
            return real.outputs(play) if play.deliverable else None

    module = Passing()
    module.number = number
    return module


def use_plays(monkeypatch, modules: dict) -> None:
    """Replace registered play modules ({number: module}) for the rest of the test."""
    from apps.core import registry

    real = registry.play_module
    monkeypatch.setattr(registry, "play_module", lambda number: modules.get(int(number)) or real(number))


def walk_past(team, play1, numbers, monkeypatch, deliverables=None):
    """Approve Plays `numbers` (after an approved Play 1) with stand-in gates; returns the next play.
    ``deliverables`` ({number: {...}}) is what each play submits (default: nothing)."""
    from apps.playbook.models import Play
    from apps.playbook.services import gate_decide, play_submit, play_update_deliverable

    owners = {"model_owner": team["mo"], "data_owner": team["do"], "signoff_owner": team["so"]}
    use_plays(monkeypatch, {number: passing_play(number) for number in numbers})
    for number in numbers:
        current = Play.objects.get(cycle=play1.cycle, number=number)
        owner = owners[current.owner_role]
        current = play_update_deliverable(actor=owner, play=current, deliverable=(deliverables or {}).get(number, {}))
        play_submit(actor=owner, play=current)
        gate_decide(actor=team["so2"] if owner == team["so"] else team["so"], play=current, decision="approve")
    return Play.objects.get(cycle=play1.cycle, number=max(numbers) + 1)

"""The six-play state machine and the policy, through the services."""
import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.playbook.models import Play, Project
from apps.playbook.services import (
    gate_decide,
    member_add,
    play_submit,
    play_update_deliverable,
    project_create,
    project_set_solo,
)
from apps.playbook.services import play_job_start as job_start
from tests.helpers import passing_play, use_plays
from tests.helpers import GOOD_DELIVERABLE, measure_baseline, submitted_play1

pytestmark = pytest.mark.django_db


def statuses(project):
    return [p.status for p in Play.objects.filter(cycle__project=project).order_by("number")]


def test_new_project_has_play1_ready_and_the_rest_locked(team):
    assert statuses(team["project"]) == ["ready", "locked", "locked", "locked", "locked", "locked"]
    assert team["play1"].assignee == team["mo"]
    assert team["play1"].owner_role == "model_owner"


@pytest.mark.parametrize("number", [2, 3, 4, 5, 6])
def test_a_locked_play_cannot_be_worked_submitted_or_decided(team, number):
    play = team["project"].cycles.get().plays.get(number=number)
    owner = {"model_owner": team["mo"], "data_owner": team["do"], "signoff_owner": team["so"]}[play.owner_role]
    with pytest.raises(Conflict):
        play_update_deliverable(actor=owner, play=play, deliverable={})
    with pytest.raises(Conflict):
        play_submit(actor=owner, play=play)
    with pytest.raises(Conflict):
        gate_decide(actor=team["so"], play=play, decision="approve")
    assert play.__class__.objects.get(pk=play.pk).status == "locked"


def test_bad_deliverable_is_refused_and_changes_nothing(team):
    play = team["play1"]
    before = AuditEvent.objects.count()
    for bad in ({"metric": "vibes"}, {"metric": "accuracy", "direction": "lower"}, {"target": "ninety"},
                {"metric": "macro_f1", "target": 1.5}, {"colour": "blue"}, {"baseline_dataset": 999}):
        with pytest.raises(ValidationFailed):
            play_update_deliverable(actor=team["mo"], play=play, deliverable=bad)
    play.refresh_from_db()
    assert play.deliverable == {} and play.status == "ready"
    assert AuditEvent.objects.count() == before


def test_work_moves_ready_to_in_progress_and_submit_needs_passing_checks(team):
    play = play_update_deliverable(actor=team["mo"], play=team["play1"], deliverable=GOOD_DELIVERABLE)
    assert play.status == "in_progress"
    with pytest.raises(ValidationFailed) as refused:
        play_submit(actor=team["mo"], play=play)
    assert "Baseline measured" in refused.value.message
    assert Play.objects.get(pk=play.pk).status == "in_progress"


def test_only_the_owner_role_works_on_a_play(team):
    for actor in (team["do"], team["so"], team["admin"]):
        with pytest.raises(NotAllowed):
            play_update_deliverable(actor=actor, play=team["play1"], deliverable=GOOD_DELIVERABLE)
    with pytest.raises(NotAllowed):
        job_start(actor=team["so"], play=team["play1"], kind="baseline", params={})


def test_submit_then_approve_unlocks_play2_when_the_baseline_falls_short(team, sample_upload):
    play = submitted_play1(team, sample_upload, target=0.999)
    assert play.status == "submitted" and play.submitted_by == team["mo"]
    with pytest.raises(Conflict):  # the trigger for shipping the baseline does not hold
        gate_decide(actor=team["so"], play=play, decision="ship_baseline")
    gate_decide(actor=team["so"], play=play, decision="approve")
    assert statuses(team["project"])[:3] == ["approved", "ready", "locked"]
    play2 = team["project"].cycles.get().plays.get(number=2)
    assert play2.assignee == team["mo"]


def test_ship_baseline_closes_the_project_and_skips_the_rest(team, sample_upload):
    play = submitted_play1(team, sample_upload, target=0.05)  # any baseline beats 5 % macro-F1
    with pytest.raises(Conflict):  # Play 2's trigger (baseline insufficient) does not hold
        gate_decide(actor=team["so"], play=play, decision="approve")
    gate_decide(actor=team["so"], play=play, decision="ship_baseline", reason="Good enough as it is.")
    project = Project.objects.get(pk=team["project"].pk)
    assert project.status == "closed_baseline_shipped"
    assert statuses(project) == ["approved", "skipped", "skipped", "skipped", "skipped", "skipped"]
    assert project.cycles.get().status == "closed"
    with pytest.raises(Conflict):
        play_update_deliverable(actor=team["mo"], play=play, deliverable={"min_margin": 0.1})


def test_reject_needs_a_reason_and_sends_the_play_back(team, sample_upload):
    play = submitted_play1(team, sample_upload)
    with pytest.raises(ValidationFailed):
        gate_decide(actor=team["so"], play=play, decision="reject", reason="  ")
    gate_decide(actor=team["so"], play=play, decision="reject", reason="The margin is too small to matter.")
    play.refresh_from_db()
    assert play.status == "rejected" and play.rejection_reason == "The margin is too small to matter."
    with pytest.raises(Conflict):  # it must be worked on again before resubmitting
        play_submit(actor=team["mo"], play=play)
    play = play_update_deliverable(actor=team["mo"], play=play, deliverable={"min_margin": 0.05})
    assert play.status == "in_progress"
    assert play_submit(actor=team["mo"], play=play).status == "submitted"


def test_a_decision_is_taken_once(team, sample_upload):
    play = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play, decision="approve")
    with pytest.raises(Conflict):
        gate_decide(actor=team["so2"], play=play, decision="reject", reason="late")


def test_only_signoff_owners_decide(team, sample_upload):
    play = submitted_play1(team, sample_upload)
    for actor in (team["mo"], team["do"], team["admin"], team["outsider"]):
        with pytest.raises(NotAllowed):
            gate_decide(actor=actor, play=play, decision="approve")
    assert Play.objects.get(pk=play.pk).status == "submitted"


def test_four_eyes_nobody_decides_their_own_submission(team, sample_upload):
    # mo also becomes a sign-off owner (two roles are fine outside solo mode) and submits Play 1.
    member_add(actor=team["mo"], project=team["project"], username="mo", role="signoff_owner")
    play = submitted_play1(team, sample_upload)
    with pytest.raises(NotAllowed) as refused:
        gate_decide(actor=team["mo"], play=play, decision="approve", hat_switch=True)
    assert "another sign-off owner" in refused.value.message
    gate_decide(actor=team["so"], play=play, decision="approve")


def test_every_role_for_one_person_only_in_solo_mode(team):
    member_add(actor=team["mo"], project=team["project"], username="mo", role="data_owner")
    with pytest.raises(ValidationFailed):
        member_add(actor=team["mo"], project=team["project"], username="mo", role="signoff_owner")
    with pytest.raises(NotAllowed):  # only admins set solo mode
        project_set_solo(actor=team["mo"], project=team["project"], solo=True)
    project_set_solo(actor=team["admin"], project=team["project"], solo=True)
    member_add(actor=team["mo"], project=team["project"], username="mo", role="signoff_owner")


def test_solo_mode_needs_the_recorded_hat_switch(team, sample_upload):
    project_set_solo(actor=team["admin"], project=team["project"], solo=True)
    member_add(actor=team["mo"], project=team["project"], username="mo", role="signoff_owner")
    play = submitted_play1(team, sample_upload)
    with pytest.raises(NotAllowed) as refused:
        gate_decide(actor=team["mo"], play=play, decision="approve")
    assert refused.value.extra["needs_hat_switch"] is True
    decision = gate_decide(actor=team["mo"], play=play, decision="approve", hat_switch=True)
    assert decision.hat_switch is True
    switch = AuditEvent.objects.get(action="gate.hat_switched")
    assert switch.actor == team["mo"] and switch.after["acting_as"] == "signoff_owner"
    # The switch is recorded before the decision it covers.
    assert AuditEvent.objects.get(action="gate.approve").pk > switch.pk


def test_a_submitted_play_is_frozen(team, sample_upload):
    play = submitted_play1(team, sample_upload)
    with pytest.raises(Conflict):
        play_update_deliverable(actor=team["mo"], play=play, deliverable={"min_margin": 0.1})
    with pytest.raises(Conflict):
        job_start(actor=team["mo"], play=play, kind="baseline", params={})


def test_submit_is_refused_while_a_job_is_running(team, sample_upload):
    play = measure_baseline(team, sample_upload)
    job_start(actor=team["mo"], play=play, kind="baseline", params={})
    with pytest.raises(Conflict):
        play_submit(actor=team["mo"], play=play)


def test_the_cycle_unlocks_each_play_only_after_the_previous_gate(team, sample_upload, monkeypatch):
    use_plays(monkeypatch, {number: passing_play(number) for number in range(2, 7)})
    play = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play, decision="approve")
    owners = {"model_owner": team["mo"], "data_owner": team["do"], "signoff_owner": team["so"]}
    plays = {p.number: p for p in team["project"].cycles.get().plays.all()}
    for number in range(2, 7):
        current = Play.objects.get(pk=plays[number].pk)
        assert current.status == "ready"
        if number < 6:
            assert Play.objects.get(pk=plays[number + 1].pk).status == "locked"
        owner = owners[current.owner_role]
        current = play_update_deliverable(actor=owner, play=current, deliverable={})
        play_submit(actor=owner, play=current)
        decider = team["so2"] if owner == team["so"] else team["so"]
        gate_decide(actor=decider, play=current, decision="approve")
    assert statuses(team["project"]) == ["approved"] * 6


def test_play2_cannot_pass_its_gate_without_a_shortlist_and_bakeoff(team, sample_upload):
    play = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play, decision="approve")
    play2 = play_update_deliverable(actor=team["mo"], play=team["project"].cycles.get().plays.get(number=2),
                                    deliverable={"rationale": "x"})
    with pytest.raises(ValidationFailed) as refused:
        play_submit(actor=team["mo"], play=play2)
    assert "Two or three candidates shortlisted" in refused.value.message
    assert "Bake-off run" in refused.value.message


@pytest.mark.parametrize("number,why", [(5, "No evaluation has run yet"), (6, "No package yet")])
def test_plays_without_their_evidence_cannot_pass_their_gate(team, sample_upload, monkeypatch, number, why):
    use_plays(monkeypatch, {earlier: passing_play(earlier) for earlier in range(2, number)})
    play = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play, decision="approve")
    plays = {p.number: p for p in team["project"].cycles.get().plays.all()}
    owners = {"model_owner": team["mo"], "data_owner": team["do"], "signoff_owner": team["so"]}
    for earlier in range(2, number):
        current = play_update_deliverable(actor=owners[plays[earlier].owner_role], play=plays[earlier], deliverable={})
        play_submit(actor=owners[current.owner_role], play=current)
        decider = team["so2"] if current.owner_role == "signoff_owner" else team["so"]
        gate_decide(actor=decider, play=current, decision="approve")
    target = Play.objects.get(pk=plays[number].pk)
    target = play_update_deliverable(actor=owners[target.owner_role], play=target, deliverable={})
    with pytest.raises(ValidationFailed, match=why):
        play_submit(actor=owners[target.owner_role], play=target)


def test_project_create_validates_and_audits(make_user):
    user = make_user("stakeholder")
    with pytest.raises(ValidationFailed):
        project_create(actor=user, name=" ", request="something")
    with pytest.raises(ValidationFailed):
        project_create(actor=user, name="A name", request="")
    assert not Project.objects.exists()
    project = project_create(actor=user, name="A name", request="Please classify invoices.")
    actions = list(AuditEvent.objects.filter(project=project).values_list("action", flat=True))
    assert actions == ["project.created", "member.role_granted", "cycle.opened", "play.ready"]

"""The portfolio (apps.playbook.portfolio): its figures on a controlled clock, who may see it, and a query
count that does not grow with the number of projects, plays and jobs."""
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.playbook.portfolio import OpenTime, human_duration, open_time, play_time_stats
from tests.conftest import PASSWORD

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=dt_timezone.utc)
D, H = timedelta(days=1), timedelta(hours=1)


# --- pure figures -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("span,text", [
    (timedelta(seconds=59), "under a minute"),
    (timedelta(minutes=12, seconds=40), "12 min"),
    (5 * H, "5 h"),
    (5 * H + timedelta(minutes=12), "5 h 12 min"),
    (3 * D + 4 * H + timedelta(minutes=59), "3 d 4 h"),
    (2 * D, "2 d"),
    (None, ""),
])
def test_durations_read_in_their_two_largest_units(span, text):
    assert human_duration(span) == text


def test_open_time_adds_the_open_stretches_and_keeps_the_one_under_way():
    changes = [(T0, "ready"), (T0 + D, "in_progress"), (T0 + 2 * D, "submitted"), (T0 + 2 * D + H, "rejected"),
               (T0 + 3 * D, "approved"),  # first stretch: 3 d
               (T0 + 5 * D, "rejected"),  # sent back by a later gate two days later
               (T0 + 5 * D + 6 * H, "submitted"), (T0 + 6 * D, "approved")]  # second stretch: 1 d
    assert open_time(changes) == OpenTime(4 * D, None)
    assert open_time(changes[:6]) == OpenTime(3 * D, T0 + 5 * D)
    assert open_time([(T0, "locked"), (T0 + H, "skipped")]) == OpenTime(timedelta(0), None)


def test_time_per_play_is_the_median_and_the_longest_of_each_play_number():
    stats = {row.number: row for row in play_time_stats({1: [3 * D, D, 2 * H], 4: [D, 3 * D]})}
    assert (stats[1].count, stats[1].median, stats[1].maximum) == (3, D, 3 * D)
    assert (stats[4].median_text, stats[4].maximum_text) == ("2 d", "3 d")  # even count: the middle two's mean
    assert (stats[2].count, stats[2].median, stats[2].median_text) == (0, None, "")
    assert sorted(stats) == [1, 2, 3, 4, 5, 6]


# --- the figures, from records written on a controlled clock ------------------------------------------------


class Clock:
    def __init__(self, monkeypatch, start):
        from django.utils import timezone

        self.now = start
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def at(self, when):
        self.now = when
        return self


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, T0)


@pytest.fixture
def staffed(make_user, monkeypatch):
    """People and a factory of projects with a model, data and two sign-off owners; every play's gate is a
    stand-in that any draft passes (the plays' own tests cover their gates)."""
    from apps.playbook.services import member_add, project_create
    from tests.helpers import passing_play, use_plays

    use_plays(monkeypatch, {n: passing_play(n) for n in range(1, 7)})
    people = {name: make_user(name) for name in ("mo", "do", "so", "so2", "lead", "member")}
    people["admin"] = make_user("admin", staff=True)

    def project(name):
        created = project_create(actor=people["mo"], name=name, request=f"{name}: a request.")
        for username, role in (("do", "data_owner"), ("so", "signoff_owner"), ("so2", "signoff_owner")):
            member_add(actor=people["mo"], project=created, username=username, role=role)
        return created

    people["project"] = project
    return people


def _play(project, number, cycle=None):
    cycle = cycle or project.cycles.order_by("-number").first()
    return cycle.plays.get(number=number)


def _submit(who, play):
    from apps.playbook.services import play_submit, play_update_deliverable

    play = play_update_deliverable(actor=who, play=play, deliverable={})
    return play_submit(actor=who, play=play)


def _decide(who, play, decision="approve", reason=""):
    from apps.playbook.services import gate_decide

    play.refresh_from_db()
    gate_decide(actor=who, play=play, decision=decision, reason=reason)


@pytest.fixture
def three_projects(staffed, clock):
    """A: Play 1 approved after 3 d, Play 2 waiting for sign-off since T0+4d. B: Play 1 ready since
    T0+12h, untouched. C: Play 1 rejected once then approved, 1 d open in all, then abandoned."""
    from apps.playbook.services import project_close

    mo, so = staffed["mo"], staffed["so"]
    a = staffed["project"]("Alpha")  # Play 1 ready at T0
    clock.at(T0 + D)
    play = _play(a, 1)
    clock.at(T0 + 2 * D)
    _submit(mo, play)
    clock.at(T0 + 3 * D)
    _decide(so, play)  # Play 1: 3 d; Play 2 ready at T0+3d
    clock.at(T0 + 4 * D)
    _submit(mo, _play(a, 2))

    clock.at(T0 + 12 * H)
    b = staffed["project"]("Bravo")

    clock.at(T0 + D)
    c = staffed["project"]("Charlie")
    clock.at(T0 + D + 2 * H)
    _submit(mo, _play(c, 1))
    clock.at(T0 + D + 6 * H)
    _decide(so, _play(c, 1), "reject", "Say who asked.")
    clock.at(T0 + D + 20 * H)
    _submit(mo, _play(c, 1))
    clock.at(T0 + 2 * D)
    _decide(so, _play(c, 1))  # Play 1 of C: 1 d open, rejection included
    clock.at(T0 + 2 * D + H)
    project_close(actor=mo, project=c, outcome="abandoned", reason="The request was withdrawn.")
    return {"A": a, "B": b, "C": c}


def test_each_figure_from_the_records(three_projects, staffed, clock):
    from apps.playbook.portfolio import portfolio

    now = T0 + 8 * D
    view = portfolio(now=now)
    rows = {row.project.name: row for row in view.projects}
    assert [row.project.name for row in view.projects] == ["Bravo", "Alpha", "Charlie"]  # stuck, gate, closed
    assert view.stuck_after_days == 7

    bravo = rows["Bravo"]
    assert (bravo.cycle_number, bravo.play.number, bravo.state, bravo.stuck) == (1, 1, "ready", True)
    assert (bravo.open_since, bravo.open_for, bravo.open_for_text) == (T0 + 12 * H, 7 * D + 12 * H, "7 d 12 h")
    assert bravo.waiting_for is None
    assert [row.project.name for row in view.stuck] == ["Bravo"]

    alpha = rows["Alpha"]
    assert (alpha.play.number, alpha.state, alpha.state_label, alpha.stuck) == (2, "submitted", "Waiting for sign-off", False)
    assert (alpha.open_for, alpha.waiting_for, alpha.waiting_for_text) == (5 * D, 4 * D, "4 d")

    charlie = rows["Charlie"]
    assert (charlie.play, charlie.state, charlie.outcome, charlie.stuck) == (None, "closed", "Abandoned", False)

    [gate] = view.gates
    assert (gate.project.name, gate.play.number, gate.cycle_number) == ("Alpha", 2, 1)
    assert (gate.submitted_at, gate.waiting_for, gate.stuck) == (T0 + 4 * D, 4 * D, False)
    assert gate.deciders == ["so", "so2"]

    times = {t.number: t for t in view.play_times}
    assert (times[1].count, times[1].median, times[1].maximum) == (2, 2 * D, 3 * D)  # Alpha 3 d, Charlie 1 d
    assert (times[1].median_text, times[1].maximum_text) == ("2 d", "3 d")
    assert times[2].count == 0  # Alpha's Play 2 is still open: not counted

    # Three more days: Alpha's gate has waited over the threshold and its play is stuck too.
    later = portfolio(now=T0 + 11 * D + H)
    assert [row.project.name for row in later.stuck] == ["Alpha", "Bravo"]  # stuck: a waiting gate first
    assert later.gates[0].stuck and later.gates[0].waiting_for_text == "7 d 1 h"


def test_the_threshold_is_a_setting(three_projects, settings):
    from apps.playbook.portfolio import portfolio

    settings.PLAYBOOK_STUCK_AFTER_DAYS = 3
    view = portfolio(now=T0 + 8 * D)
    assert view.stuck_after_days == 3
    assert [row.project.name for row in view.stuck] == ["Alpha", "Bravo"]  # 5 d (a gate waits), 7 d 12 h
    assert view.gates[0].stuck  # waiting 4 d


def test_the_submitter_is_not_offered_as_decider_of_their_own_gate(staffed, clock):
    from apps.playbook.portfolio import portfolio
    from apps.playbook.services import member_add

    project = staffed["project"]("Delta")
    member_add(actor=staffed["mo"], project=project, username="so", role="model_owner")
    _submit(staffed["so"], _play(project, 1))
    [gate] = portfolio(now=T0 + H).gates
    assert gate.deciders == ["so2"]


def test_jobs_queued_and_running_with_their_age_and_progress(staffed, clock, sample_upload):
    from apps.datasets.services import dataset_upload
    from apps.jobs.services import job_claim, job_report
    from apps.playbook.portfolio import portfolio
    from apps.playbook.services import play_job_start

    project = staffed["project"]("Echo")
    dataset = dataset_upload(actor=staffed["mo"], project=project, upload=sample_upload())
    play1 = _play(project, 1)
    clock.at(T0 + H)
    running = play_job_start(actor=staffed["mo"], play=play1, kind="baseline", params={"dataset": dataset.pk})
    clock.at(T0 + 2 * H)
    job_claim(job_id=running.pk)
    job_report(job_id=running.pk, points=[], progress=0.4)
    clock.at(T0 + 3 * H)
    other = staffed["project"]("Echo two")
    sample = dataset_upload(actor=staffed["mo"], project=other, upload=sample_upload())
    queued = play_job_start(actor=staffed["mo"], play=_play(other, 1), kind="baseline", params={"dataset": sample.pk})
    view = portfolio(now=T0 + 3 * H + timedelta(minutes=30))
    assert [(j.job.pk, j.job.status, j.running_for, j.percent) for j in view.jobs] == [
        (running.pk, "running", 90 * timedelta(minutes=1), 40),
        (queued.pk, "queued", timedelta(minutes=30), 0),
    ]
    assert view.jobs[0].running_for_text == "1 h 30 min" and view.jobs[0].cycle_number == 1


# --- the query count ----------------------------------------------------------------------------------------


def _queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


def test_the_query_count_does_not_grow_with_projects_plays_and_jobs(staffed, clock, sample_upload):
    from apps.datasets.services import dataset_upload
    from apps.jobs.services import job_claim
    from apps.playbook.portfolio import portfolio
    from apps.playbook.services import play_job_start

    def grow(names):
        """Odd ones: Play 1 approved, Play 2 waiting for sign-off. Even ones: a baseline job on Play 1,
        every other one running."""
        for i, name in enumerate(names):
            project = staffed["project"](name)
            if i % 2 == 0:
                _submit(staffed["mo"], _play(project, 1))
                _decide(staffed["so"], _play(project, 1))
                _submit(staffed["mo"], _play(project, 2))
            else:
                dataset = dataset_upload(actor=staffed["mo"], project=project, upload=sample_upload())
                job = play_job_start(actor=staffed["mo"], play=_play(project, 1), kind="baseline",
                                     params={"dataset": dataset.pk})
                if i % 4 == 1:
                    job_claim(job_id=job.pk)

    admin, lead = Client(), Client()
    admin.force_login(staffed["admin"])
    grant_lead(staffed)
    lead.force_login(staffed["lead"])

    def count():
        return (_queries(portfolio), _queries(lambda: admin.get("/portfolio/")),
                _queries(lambda: lead.get("/portfolio/")), _queries(lambda: admin.get("/api/portfolio/")))

    grow(["P1", "P2", "P3", "P4"])
    small = count()
    grow([f"Q{i}" for i in range(36)])
    view = portfolio()
    assert (len(view.projects), len(view.gates), len(view.jobs)) == (40, 20, 20)
    assert {j.job.status for j in view.jobs} == {"queued", "running"}
    assert count() == small


# --- who sees it ------------------------------------------------------------------------------------------


def grant_lead(staffed):
    """Make `lead` a lead the way an admin does in the admin site: the permission through a group (audited)."""
    from django.contrib.auth.models import Group, Permission

    from apps.accounts.services import user_admin_relations_save

    group, _ = Group.objects.get_or_create(name="leads")
    group.permissions.add(Permission.objects.get(codename="view_portfolio", content_type__app_label="playbook"))
    lead = staffed["lead"]
    user_admin_relations_save(actor=staffed["admin"], user=lead, save_m2m=lambda: lead.groups.add(group))
    return lead


def test_admins_and_leads_see_it_others_are_refused(staffed, clock):
    from apps.audit.models import AuditEvent

    project = staffed["project"]("Foxtrot")
    from apps.playbook.services import member_add

    member_add(actor=staffed["mo"], project=project, username="member", role="model_owner")
    lead = grant_lead(staffed)
    event = AuditEvent.objects.filter(action="user.groups_changed", object_id=str(lead.pk)).get()
    assert event.after["groups"] == ["leads"] and event.actor == staffed["admin"]

    def get(username, url, api=False):
        client = Client()
        if username:
            client.force_login(staffed[username]) if not api else client.login(username=username, password=PASSWORD)
        return client.get(url)

    for who in ("admin", "lead"):
        page = get(who, "/portfolio/")
        assert page.status_code == 200 and b"Foxtrot" in page.content
        assert b'href="/portfolio/"' in page.content  # the nav link
        assert get(who, "/api/portfolio/", api=True).json()["projects"][0]["name"] == "Foxtrot"
    for who in ("member", "mo", "so"):
        assert get(who, "/portfolio/").status_code == 403
        assert get(who, "/api/portfolio/", api=True).status_code == 403
        assert b'href="/portfolio/"' not in get(who, "/").content
    anonymous = get(None, "/portfolio/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert get(None, "/api/portfolio/").status_code == 401


def test_a_lead_opens_only_the_projects_where_they_hold_a_role(staffed, clock):
    from apps.playbook.services import member_add

    mine, other = staffed["project"]("Golf"), staffed["project"]("Hotel")
    grant_lead(staffed)
    member_add(actor=staffed["mo"], project=mine, username="lead", role="signoff_owner")
    client = Client()
    client.force_login(staffed["lead"])
    page = client.get("/portfolio/").content.decode()
    assert f'href="/projects/{mine.pk}/"' in page and f'href="/projects/{other.pk}/"' not in page
    assert "Hotel" in page
    admin = Client()
    admin.force_login(staffed["admin"])
    page = admin.get("/portfolio/").content.decode()
    assert f'href="/projects/{other.pk}/"' in page and f'href="/plays/{_play(other, 1).pk}/"' in page


def test_the_api_gives_the_same_figures_in_seconds(three_projects, staffed):
    from apps.playbook.portfolio import as_dict, portfolio

    data = as_dict(portfolio(now=T0 + 8 * D))
    bravo = data["projects"][0]
    assert (bravo["name"], bravo["stuck"], bravo["open_seconds"], bravo["open_for"]) == (
        "Bravo", True, int((7 * D + 12 * H).total_seconds()), "7 d 12 h")
    gate = data["gates"][0]
    assert (gate["project_name"], gate["waiting_seconds"], gate["deciders"], gate["submitted_by"]) == (
        "Alpha", int((4 * D).total_seconds()), ["so", "so2"], "mo")
    assert data["play_times"][0] == {"number": 1, "title": "Scope and baseline", "plays_measured": 2,
                                     "median_seconds": 2 * 86400, "median": "2 d", "max_seconds": 3 * 86400,
                                     "max": "3 d"}
    assert data["projects"][2]["outcome"] == "Abandoned"
    assert data["projects"][2]["closed_reason"] == "The request was withdrawn."


def test_admins_grant_it_in_the_admin_site(staffed):
    """The permission is offered on the user and group forms of the admin site, by its plain name."""
    client = Client()
    client.force_login(staffed["admin"])
    for url in (f"/admin/auth/user/{staffed['lead'].pk}/change/", "/admin/auth/group/add/"):
        page = client.get(url)
        assert page.status_code == 200 and "Can see the portfolio across every project" in page.content.decode()

"""The portfolio in a real browser: an admin reaches it from the navigation bar, sees what needs attention
first with links to the project and play pages, and the page fits a 390 px wide screen (its tables scroll
in their own box)."""
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _projects(people):
    """Two projects: one with Play 1 waiting for sign-off, one abandoned (stand-in gates)."""
    from apps.core import registry
    from apps.playbook.services import member_add, play_submit, play_update_deliverable, project_close, project_create
    from tests.helpers import passing_play

    module = passing_play(1)
    real = registry.play_module
    registry.play_module = lambda n: module if int(n) == 1 else real(n)
    try:
        waiting = project_create(actor=people["mo"], name="Invoice triage", request="Sort invoices.")
        member_add(actor=people["mo"], project=waiting, username="so", role="signoff_owner")
        play = play_update_deliverable(actor=people["mo"], play=waiting.cycles.get().plays.get(number=1),
                                       deliverable={})
        play_submit(actor=people["mo"], play=play)
        closed = project_create(actor=people["mo"], name="Legacy router", request="Route the old queue.")
        project_close(actor=people["mo"], project=closed, outcome="abandoned", reason="The queue was retired.")
    finally:
        registry.play_module = real
    return waiting, play


def test_an_admin_reads_the_portfolio_wide_and_on_a_phone(make_user, live_server, page: Page, artifacts_dir):
    people = {"mo": make_user("mo"), "so": make_user("so"), "admin": make_user("admin", staff=True)}
    waiting, play = _projects(people)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator(".topbar").get_by_role("link", name="Portfolio").click()
    expect(page.get_by_role("heading", name="Portfolio", exact=True)).to_be_visible()

    rows = page.locator("section.card").first.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Invoice triage")  # a gate waiting comes before a closed project
    expect(rows.nth(0)).to_contain_text("Waiting for sign-off")
    expect(rows.nth(1)).to_contain_text("Abandoned")
    gates = page.locator("section.card").filter(has=page.get_by_role("heading", name="Gates waiting for a decision"))
    expect(gates).to_contain_text("so")
    page.screenshot(path=str(artifacts_dir / "portfolio.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts_dir / "portfolio-390.png"), full_page=True)

    rows.nth(0).get_by_role("link", name="Play 1: Scope and baseline").click()
    expect(page).to_have_url(f"{live_server.url}/plays/{play.pk}/")

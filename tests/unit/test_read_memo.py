"""The memo of a read-only request (apps.core.request_context): a GET or HEAD reads each memoized answer
once; a request that may change things, and anything outside a request, always reads fresh; nothing is kept
from one request to the next."""
import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory

from apps.core.middleware import RequestIdMiddleware
from apps.core.request_context import memoized

pytestmark = pytest.mark.django_db


def _counting_view(calls: list):
    def view(request):
        first = memoized(("answer",), lambda: calls.append(request.method) or len(calls))
        second = memoized(("answer",), lambda: calls.append(request.method) or len(calls))
        return HttpResponse(f"{first},{second}")
    return view


@pytest.mark.parametrize("method, reads", [("get", 1), ("head", 1), ("post", 2), ("put", 2), ("delete", 2)])
def test_only_a_read_only_request_reuses_an_answer(method, reads):
    calls = []
    middleware = RequestIdMiddleware(_counting_view(calls))
    middleware(getattr(RequestFactory(), method)("/"))
    assert len(calls) == reads
    # The next request, and code outside any request (a service, the worker), read fresh.
    middleware(RequestFactory().get("/"))
    assert len(calls) == reads + 1
    memoized(("answer",), lambda: calls.append("outside"))
    memoized(("answer",), lambda: calls.append("outside"))
    assert calls[-2:] == ["outside", "outside"]


def test_a_role_revoked_between_two_page_views_is_seen_by_the_second(team):
    """Roles are memoized within one GET only: the next page view reads them again."""
    from apps.accounts.models import Membership

    client = Client()
    client.force_login(team["do"])
    url = f"/projects/{team['project'].pk}/"
    assert client.get(url).status_code == 200
    Membership.objects.filter(project=team["project"], user=team["do"]).delete()
    assert client.get(url).status_code == 404

"""Pages of the training plays' own actions (the play pages themselves are the core's)."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.core.errors import ApplicationError, ValidationFailed
from apps.core.views import HtmxHttpRequest, field_errors, flash_error
from apps.playbook import selectors
from apps.training.candidates import candidate_register


@login_required
@require_POST
def candidate_add(request: HtmxHttpRequest, play_id: int):
    play = selectors.play_for_user(request.user, play_id)
    fields = {k: request.POST.get(k, "") for k in ("name", "source", "licence", "domain_rating", "domain_note",
                                                     "latency_budget_ms", "memory_budget_mb")}
    try:
        candidate = candidate_register(actor=request.user, project=play.cycle.project,
                                       licence_permits=True if request.POST.get("licence_permits") == "on" else None,
                                       **fields)
    except ValidationFailed as exc:
        # The form comes back as it was typed, each field with its problem.
        from apps.playbook.views import _play_context

        flash_error(request, exc, marked=True)
        return render(request, "playbook/play_detail.html",
                      {**_play_context(request, play), "field_errors": field_errors(exc),
                       "candidate_form": request.POST.dict()}, status=400)
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"Candidate “{candidate.name}” registered.")
    return redirect(reverse("playbook:play", kwargs={"play_id": play.pk}) + "#candidates")

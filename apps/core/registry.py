"""The play registry: play number -> the dotted path of the module that implements it.

The core (apps.playbook) and the job machinery (apps.jobs) know a play only through this registry. Each
path names a module (or package) of the app that owns the play's domain; it is imported on first use,
so the core imports no play module and adding a play touches only its own module, its templates and
this table (settings.PLAYBOOK_PLAYS).

A play module exposes ``PLAY``, an instance of apps.playbook.plays.PlayModule. Job kinds are
registered by the play modules that run them (``PlayModule.job_kinds``).
"""
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from apps.core.errors import ValidationFailed


@cache
def _load(path: str):
    return import_string(f"{path}.PLAY")


def play_module(number: int):
    """The module object of play `number` (1-6)."""
    try:
        path = settings.PLAYBOOK_PLAYS[int(number)]
    except (KeyError, TypeError, ValueError):
        raise LookupError(f"No play {number!r} is registered") from None
    return _load(path)


def play_modules() -> dict[int, object]:
    return {number: play_module(number) for number in sorted(settings.PLAYBOOK_PLAYS)}


def job_kinds() -> dict:
    """Every registered job kind by name, with the play number that registered it."""
    found = {}
    for number, module in play_modules().items():
        for name, kind in module.job_kinds.items():
            if name in found:
                raise RuntimeError(f"Job kind {name!r} is registered twice (plays {found[name][0]} and {number})")
            found[name] = (number, kind)
    return found


def job_kind(name: str):
    """The JobKind registered under `name`; a clear error for an unknown kind."""
    kinds = job_kinds()
    if name not in kinds:
        raise ValidationFailed(f"There is no job kind {name!r}; the kinds are: {', '.join(sorted(kinds))}.")
    return kinds[name][1]


def job_kind_label(name: str) -> str:
    entry = job_kinds().get(name)
    return entry[1].label if entry else name

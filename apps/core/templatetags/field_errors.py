"""Marks a refused form's fields: `{% field_attrs "target" %}` inside an input's tag (aria-invalid, the
message it is described by, the red outline's class) and `{% field_error "target" %}` after it (the message).
Both read ``field_errors`` ({field name: message}) from the context and write nothing for a field without one.
Where one page has several job forms with the same field names (Play 4's), ``kind="unfreeze"`` marks a field
only when the refused job start was of that kind, and ``{% typed "lr" "0.001" kind="frozen_head" %}`` gives back
what was typed in that form (else the default)."""
from django import template
from django.utils.html import format_html

register = template.Library()


def _same_form(context, kind) -> bool:
    return not kind or (context.get("job_form") or {}).get("kind") == kind


def _message(context, name, kind="") -> str:
    if not _same_form(context, kind):
        return ""
    errors = context.get("field_errors") or {}
    return errors.get(str(name), "")


def error_id(name) -> str:
    return "error-" + "".join(c if c.isalnum() else "-" for c in str(name))


@register.simple_tag(takes_context=True)
def field_attrs(context, name, described_by="", kind=""):
    """``described_by``: the id of a hint the field is described by anyway (the message comes first)."""
    if not _message(context, name, kind):
        return format_html(' aria-describedby="{}"', described_by) if described_by else ""
    ids = f"{error_id(name)} {described_by}".strip()
    return format_html(' aria-invalid="true" aria-describedby="{}" class="field-invalid"', ids)


@register.simple_tag(takes_context=True)
def field_error(context, name, kind=""):
    message = _message(context, name, kind)
    if not message:
        return ""
    return format_html('<span class="field-error" id="{}">{}</span>', error_id(name), message)


@register.simple_tag(takes_context=True)
def typed(context, name, default="", kind=""):
    """What the user typed into ``name`` in the refused form of this ``kind``, else ``default``."""
    form = context.get("job_form") or {}
    if form and _same_form(context, kind) and name in form:
        return form[name]
    return default

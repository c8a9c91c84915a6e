"""Marks a refused form's fields: `{% field_attrs "target" %}` inside an input's tag (aria-invalid, the
message it is described by, the red outline's class) and `{% field_error "target" %}` after it (the message).
Both read ``field_errors`` ({field name: message}) from the context and write nothing for a field without one."""
from django import template
from django.utils.html import format_html

register = template.Library()


def _message(context, name) -> str:
    errors = context.get("field_errors") or {}
    return errors.get(str(name), "")


def error_id(name) -> str:
    return "error-" + "".join(c if c.isalnum() else "-" for c in str(name))


@register.simple_tag(takes_context=True)
def field_attrs(context, name, described_by=""):
    """``described_by``: the id of a hint the field is described by anyway (the message comes first)."""
    if not _message(context, name):
        return format_html(' aria-describedby="{}"', described_by) if described_by else ""
    ids = f"{error_id(name)} {described_by}".strip()
    return format_html(' aria-invalid="true" aria-describedby="{}" class="field-invalid"', ids)


@register.simple_tag(takes_context=True)
def field_error(context, name):
    message = _message(context, name)
    if not message:
        return ""
    return format_html('<span class="field-error" id="{}">{}</span>', error_id(name), message)

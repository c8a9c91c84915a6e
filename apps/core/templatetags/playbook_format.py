"""Small number formats every page may use: {% load playbook_format %}."""
from django import template

register = template.Library()


@register.filter
def percent(value, digits=1) -> str:
    """A share (0.0033) as a percentage with ``digits`` decimals ("0.3%"); "n/a" for anything else."""
    try:
        return f"{float(value) * 100:.{int(digits)}f}%"
    except (TypeError, ValueError):
        return "n/a"

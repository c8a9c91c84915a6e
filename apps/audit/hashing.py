"""The canonical form of an audit event and its hash. Kept apart so verification uses the very same code."""
import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder

GENESIS = ""


def canonical(fields: dict) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same dict always gives the same bytes."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder).encode()


def event_fields(event) -> dict:
    return {
        "event_time": event.event_time.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "project_id": event.project_id,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "before": event.before,
        "after": event.after,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
    }


def event_hash(event) -> str:
    return hashlib.sha256(canonical(event_fields(event))).hexdigest()


def json_roundtrip(value):
    """What a JSONField gives back after a save: hash what will be read, not what was passed in."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))

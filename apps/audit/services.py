"""Appending to the audit trail. Only services call `audit_record`, always inside their own transaction.

Once the transaction that appended an event commits, `event_committed` is sent with it: higher apps (the
notifications) react to what happened without any service calling them, and a rolled-back change sends
nothing.
"""
import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.dispatch import Signal
from django.utils import timezone

from apps.audit.hashing import GENESIS, event_hash, json_roundtrip
from apps.audit.head import head_signature, head_signature_ok
from apps.audit.models import AuditChainHead, AuditEvent
from apps.core.request_context import current_request_id

logger = logging.getLogger(__name__)

# Sent after commit with `event` (the committed AuditEvent). Receivers run after the change is durable: one
# that fails is logged and never reaches the service's caller (send_robust), nor stops the other receivers.
event_committed = Signal()


class AuditChainBroken(RuntimeError):
    """The chain's end does not match its signed head: something wrote to the audit table, or to the head,
    without the services. Appending is refused until someone looks (`python manage.py verify_audit`): an
    append would otherwise sign the tampered end as if it were genuine."""

# Any constant works: it names the one advisory lock that serialises appends to the chain on PostgreSQL.
_CHAIN_LOCK_KEY = 0x706C6179626F6F6B  # "playbook"


def audit_chain_lock() -> None:
    """Take the chain's lock now, inside the caller's transaction (it is held until commit; taking it again
    is free). A service that locks rows and then appends events takes it first: the chain lock serialises
    every audited write anyway, and taking it before any row lock means two transactions never wait on each
    other's row lock and the chain lock in opposite orders (a deadlock: a request holding a play's row,
    a worker holding the chain and inserting an event that references that row's project)."""
    _lock_chain()


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    # SQLite: the connection runs IMMEDIATE transactions (settings), so the writer already holds the lock.


def audit_record(
    *,
    actor,
    action: str,
    project=None,
    obj=None,
    before: dict | None = None,
    after: dict | None = None,
    object_type: str = "",
    object_id: str = "",
) -> AuditEvent:
    """Append one event to the chain. Must run inside the caller's transaction, so the event and the
    change it describes commit together or not at all."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must be called inside the service's transaction")
    _lock_chain()
    head = _checked_head()
    user = actor if getattr(actor, "is_authenticated", False) else None
    event = AuditEvent(
        event_time=timezone.now(),
        actor=user,
        actor_label=(user.get_username() if user else (actor if isinstance(actor, str) else "system")),
        action=action,
        project=project,
        object_type=object_type or (obj._meta.model_name if obj is not None else ""),
        object_id=object_id or (str(obj.pk) if obj is not None else ""),
        before=json_roundtrip(before),
        after=json_roundtrip(after),
        request_id=current_request_id(),
        prev_hash=head.last_hash if head else GENESIS,
    )
    event.hash = event_hash(event)
    event.save(force_insert=True)
    _advance_head(head, event)
    transaction.on_commit(lambda: _announce(event))
    return event


@dataclass(frozen=True)
class _Head:
    seq: int
    last_hash: str


# The head and the last event's hash in one round trip (an append is on every audited write's path).
_HEAD_AND_LAST_SQL = (
    f"SELECT (SELECT hash FROM {AuditEvent._meta.db_table} ORDER BY id DESC LIMIT 1), h.seq, h.last_hash, "
    f"h.signature FROM (SELECT 1 AS one) AS o LEFT JOIN {AuditChainHead._meta.db_table} AS h ON h.id = 1"
)


def _checked_head() -> _Head | None:
    """The head, after checking (under the chain lock) that it is genuine and that the chain ends where it
    says; None while nothing was ever appended."""
    with connection.cursor() as cursor:
        cursor.execute(_HEAD_AND_LAST_SQL)
        last, seq, last_hash, signature = cursor.fetchone()
    if seq is None:
        if last is not None:
            raise AuditChainBroken("the audit chain has events but no head: run `python manage.py verify_audit`")
        return None
    if not head_signature_ok(seq, last_hash, signature):
        raise AuditChainBroken("the audit chain head's signature does not verify (edited outside the services, "
                               "or PLAYBOOK_AUDIT_KEY changed): run `python manage.py verify_audit`")
    if last_hash != (last if last is not None else GENESIS):
        raise AuditChainBroken("the audit chain does not end where its head says (events were appended or cut "
                               "outside the services): run `python manage.py verify_audit`")
    return _Head(seq, last_hash)


def _advance_head(head: _Head | None, event: AuditEvent) -> None:
    seq = (head.seq if head else 0) + 1
    values = {"seq": seq, "last_hash": event.hash, "signature": head_signature(seq, event.hash),
              "updated_at": event.event_time}
    if head is None:
        AuditChainHead.objects.create(pk=1, **values)
    else:
        AuditChainHead.objects.filter(pk=1).update(**values)


def _announce(event: AuditEvent) -> None:
    for receiver, result in event_committed.send_robust(sender=AuditEvent, event=event):
        if isinstance(result, Exception):
            logger.error("event_committed receiver %r failed on audit event %s", receiver, event.pk,
                         exc_info=(type(result), result, result.__traceback__))


def auth_event_record(*, user, action: str, username: str = "") -> AuditEvent:
    """Sign-in, sign-out and failed sign-in: their own small transaction."""
    with transaction.atomic():
        if user is None:
            return audit_record(actor=f"anonymous:{username}"[:150], action=action, after={"username": username})
        return audit_record(actor=user, action=action, obj=user)

from dataclasses import dataclass

from django.db import connection, transaction

from apps.audit.hashing import GENESIS, event_hash
from apps.audit.head import head_signature_ok
from apps.audit.models import AuditChainHead, AuditEvent


@dataclass
class ChainReport:
    checked: int
    broken_event_id: int | None = None
    problem: str = ""
    head_seq: int | None = None
    head_hash: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def verify_chain() -> ChainReport:
    """Walk the chain in order and report the first event whose hash or link does not hold; then check that
    the chain ends where its signed head says (a cut tail, or an event appended behind the services' back,
    leaves every link intact and only the head disagrees).

    The walk and the head are read in one snapshot (REPEATABLE READ on PostgreSQL, one transaction on
    SQLite), so appends committed meanwhile are seen by both or by neither."""
    # Inside a caller's transaction (a test, a service) the isolation level is already set.
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _walk()


def _walk() -> ChainReport:
    head = AuditChainHead.objects.filter(pk=1).first()
    expected_prev = GENESIS
    checked = 0
    first_past_head = None
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != expected_prev:
            return ChainReport(checked, event.pk, "its prev_hash does not match the event before it "
                               "(an event was removed or reordered)")
        if event_hash(event) != event.hash:
            return ChainReport(checked, event.pk, "its content does not match its hash (it was altered)")
        expected_prev = event.hash
        checked += 1
        if head is not None and checked == head.seq + 1:
            first_past_head = event.pk
    if head is None:
        if checked:
            return ChainReport(checked, None, "the chain head is missing (it was deleted outside the services)")
        return ChainReport(0)
    report = ChainReport(checked, None, "", head.seq, head.last_hash)
    if not head_signature_ok(head.seq, head.last_hash, head.signature):
        report.problem = ("the chain head's signature does not verify (it was edited outside the services, "
                          "or PLAYBOOK_AUDIT_KEY changed)")
    elif checked > head.seq:
        report.broken_event_id = first_past_head
        report.problem = (f"{checked - head.seq} event(s) follow the signed head, which ends the chain at "
                          f"{head.seq} (appended without the services)")
    elif checked < head.seq:
        report.problem = (f"the chain holds {checked} events but its signed head says {head.seq} "
                          "(its tail was cut)")
    elif expected_prev != head.last_hash:
        report.problem = "the last event is not the one the signed head names (the tail was replaced)"
    return report

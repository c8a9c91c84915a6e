"""The audit chain against each kind of tampering, and its signed head.

Each tampering is done the way an intruder with a database session would: raw SQL with the row triggers
switched off (`session_replication_role = replica`, which a superuser may set), inside the test's
transaction so it is rolled back afterwards. The verifier must name what happened; an untampered chain must
verify. Needs PostgreSQL (run with `python manage.py testsuite`).
"""
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.audit.hashing import event_hash
from apps.audit.models import AuditChainHead, AuditEvent
from apps.audit.services import AuditChainBroken, audit_record
from apps.audit.verification import verify_chain
from apps.playbook.services import play_update_deliverable

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(team):
    """A chain of a dozen or more events written by the services; returns their ids in order."""
    if connection.vendor != "postgresql":
        pytest.fail("these checks need PostgreSQL: run the suite with `python manage.py testsuite`")
    for margin in (0.03, 0.04, 0.05):
        play_update_deliverable(actor=team["mo"], play=team["play1"], deliverable={"min_margin": margin})
    ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    assert len(ids) >= 10
    return ids


def as_intruder(*statements):
    """Run raw SQL with every trigger off, as a superuser bypassing the append-only guards would."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def forge_after(last: AuditEvent) -> AuditEvent:
    """An event whose hash is computed correctly (the hash is public, not keyed): its link holds."""
    forged = AuditEvent(event_time=timezone.now(), actor_label="intruder", action="gate.approve",
                        object_type="play", object_id="1", prev_hash=last.hash)
    forged.hash = event_hash(forged)
    forged.save(force_insert=True)
    return forged


def test_an_untampered_chain_verifies_and_ends_at_its_signed_head(chain):
    report = verify_chain()
    head = AuditChainHead.objects.get()
    assert report.ok and report.problem == ""
    assert report.checked == head.seq == len(chain)
    assert head.last_hash == AuditEvent.objects.get(pk=chain[-1]).hash
    call_command("verify_audit")


def test_each_append_advances_the_head_in_its_transaction(chain, team):
    before = AuditChainHead.objects.get()
    with pytest.raises(ZeroDivisionError):
        with transaction.atomic():
            audit_record(actor=team["mo"], action="test.rolled_back")
            1 / 0
    assert AuditChainHead.objects.get().seq == before.seq  # rolled back with the event
    with transaction.atomic():
        event = audit_record(actor=team["mo"], action="test.kept")
    head = AuditChainHead.objects.get()
    assert (head.seq, head.last_hash) == (before.seq + 1, event.hash)
    assert verify_chain().ok


def test_an_altered_row_is_caught(chain):
    target = chain[len(chain) // 2]
    as_intruder(("UPDATE audit_auditevent SET actor_label = 'someone else' WHERE id = %s", [target]))
    report = verify_chain()
    assert (report.broken_event_id, report.ok) == (target, False)
    assert "altered" in report.problem
    with pytest.raises(CommandError, match=rf"event #{target}: .*altered"):
        call_command("verify_audit")


def test_a_deleted_middle_row_is_caught(chain):
    middle = chain[len(chain) // 2]
    as_intruder(("DELETE FROM audit_auditevent WHERE id = %s", [middle]))
    report = verify_chain()
    assert report.broken_event_id == chain[chain.index(middle) + 1]
    assert "removed or reordered" in report.problem


def test_reordered_rows_are_caught(chain):
    a, b = chain[3], chain[4]
    as_intruder(
        ("UPDATE audit_auditevent SET id = -1 WHERE id = %s", [a]),
        ("UPDATE audit_auditevent SET id = %s WHERE id = %s", [a, b]),
        ("UPDATE audit_auditevent SET id = %s WHERE id = -1", [b]),
    )
    report = verify_chain()
    assert report.broken_event_id == a and "removed or reordered" in report.problem


def test_a_row_appended_out_of_band_is_caught_by_the_head_and_blocks_appends(chain, team):
    forged = forge_after(AuditEvent.objects.get(pk=chain[-1]))
    report = verify_chain()
    assert report.broken_event_id == forged.pk
    assert "follow the signed head" in report.problem and "appended without the services" in report.problem
    with pytest.raises(CommandError, match=rf"event #{forged.pk}"):
        call_command("verify_audit")
    # The next service append refuses rather than sign the forged event into the chain.
    with pytest.raises(AuditChainBroken, match="does not end where its head says"):
        play_update_deliverable(actor=team["mo"], play=team["play1"], deliverable={"min_margin": 0.06})
    assert AuditEvent.objects.order_by("-id").first() == forged


def test_a_cut_tail_is_caught_by_the_head(chain):
    as_intruder(("DELETE FROM audit_auditevent WHERE id >= %s", [chain[-2]]))
    report = verify_chain()
    assert not report.ok and report.checked == len(chain) - 2
    assert f"holds {len(chain) - 2} events but its signed head says {len(chain)}" in report.problem
    with pytest.raises(CommandError, match="tail was cut"):
        call_command("verify_audit")


def test_a_replaced_last_row_is_caught_by_the_head(chain):
    as_intruder(("DELETE FROM audit_auditevent WHERE id = %s", [chain[-1]]))
    forge_after(AuditEvent.objects.get(pk=chain[-2]))
    report = verify_chain()
    assert report.checked == len(chain) and "tail was replaced" in report.problem


def test_a_head_moved_without_the_key_or_deleted_is_caught(chain):
    as_intruder(("DELETE FROM audit_auditevent WHERE id = %s", [chain[-1]]),
                ("UPDATE audit_auditchainhead SET seq = seq - 1, last_hash = %s",
                 [AuditEvent.objects.get(pk=chain[-2]).hash]))
    assert "signature does not verify" in verify_chain().problem
    as_intruder(("DELETE FROM audit_auditchainhead", []))
    assert "head is missing" in verify_chain().problem


def test_the_head_follows_a_key_rotation_and_refuses_a_foreign_key(chain, team, settings):
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-rotated-secret-key-" + "x" * 40, [old]
    assert verify_chain().ok  # signed with the old key, which still verifies
    with transaction.atomic():
        audit_record(actor=team["mo"], action="test.after_rotation")  # re-signs with the new key
    settings.SECRET_KEY_FALLBACKS = []
    assert verify_chain().ok
    settings.PLAYBOOK_AUDIT_KEY = "another-key-entirely"
    assert "signature does not verify" in verify_chain().problem
    with pytest.raises(AuditChainBroken, match="signature does not verify"):
        with transaction.atomic():
            audit_record(actor=team["mo"], action="test.refused")


def test_postgresql_refuses_truncate_unless_the_session_allows_it(chain):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL playbook.audit_allow_truncate = off")  # as any connection but the tests'
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # (TRUNCATE waits for no pending foreign-key check)
    for sql in ("TRUNCATE audit_auditevent CASCADE", "TRUNCATE audit_auditchainhead",
                "DELETE FROM audit_auditchainhead"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)
    assert AuditEvent.objects.count() == len(chain) and AuditChainHead.objects.get().seq == len(chain)
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_is_verified_then_flushed(team):
    """Committed events survive until the flush after this test, which verifies the chain and then empties
    the audit tables with TRUNCATE (allowed for this test process's connections only)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW playbook.audit_allow_truncate")
        assert cursor.fetchone()[0] == "on"
    head = AuditChainHead.objects.get()
    assert head.seq == AuditEvent.objects.count() > 0 and verify_chain().ok


def test_the_staff_audit_page_verifies_the_chain_on_request(chain, team):
    from django.test import Client

    from tests.conftest import PASSWORD

    admin = Client()
    assert admin.login(username="admin", password=PASSWORD)
    assert 'id="chain-result"' not in admin.get("/audit/").content.decode()  # never walked on a plain view
    page = admin.get("/audit/", {"verify": "1"}).content.decode()
    assert f"Audit chain intact: {len(chain) + 1} events verified" in page  # + the admin's sign-in
    sign_in = AuditEvent.objects.get(pk__gt=chain[-1])
    as_intruder(("DELETE FROM audit_auditevent WHERE id = %s", [chain[-1]]))
    page = admin.get("/audit/", {"verify": "1"}).content.decode()
    assert f"Audit chain broken at event #{sign_in.pk}" in page and "removed or reordered" in page
    outsider = Client()
    assert outsider.login(username="outsider", password=PASSWORD)
    assert "Audit chain" not in outsider.get("/audit/", {"verify": "1"}).content.decode()


@pytest.mark.django_db(transaction=True)
def test_verification_reads_the_chain_and_its_head_in_one_snapshot(team, monkeypatch):
    """An append that commits while the verifier walks (here: after it read the head, before it read the
    events) is seen by neither read, so the verifier never mistakes a concurrent append for an intruder's."""
    import threading

    from apps.audit import verification

    def append_and_commit():
        try:
            with transaction.atomic():
                audit_record(actor="worker", action="test.meanwhile")
        finally:
            connection.close()

    walk = AuditEvent.objects.order_by

    def order_by_after_an_append(*fields):
        monkeypatch.undo()
        thread = threading.Thread(target=append_and_commit)
        thread.start()
        thread.join()
        return walk(*fields)

    before = AuditChainHead.objects.get().seq
    monkeypatch.setattr(verification.AuditEvent.objects, "order_by", order_by_after_an_append)
    report = verification.verify_chain()
    assert (report.ok, report.checked, report.problem) == (True, before, "")
    assert AuditChainHead.objects.get().seq == before + 1 and verify_chain().checked == before + 1

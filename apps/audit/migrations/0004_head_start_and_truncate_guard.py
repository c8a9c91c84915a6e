"""Start the chain head where an existing chain ends, and on PostgreSQL refuse TRUNCATE on the audit tables
(and DELETE on the head) at the database itself.

The row triggers of 0002 never fire on TRUNCATE, which empties a table in one statement; a statement trigger
does. The test process must still empty every table between transactional tests, so a session that has run
`SET playbook.audit_allow_truncate = on` may truncate (only tests/conftest.py does). This guards against an
accident (`manage.py flush` on the wrong database); a superuser can disable triggers, which is why the chain
also has a signed head.
"""
from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION audit_refuse_removal() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('playbook.audit_allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_auditevent_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_removal();
CREATE TRIGGER audit_auditchainhead_no_truncate
    BEFORE TRUNCATE ON audit_auditchainhead
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_removal();
CREATE TRIGGER audit_auditchainhead_no_delete
    BEFORE DELETE ON audit_auditchainhead
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_removal();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_auditchainhead_no_delete ON audit_auditchainhead;
DROP TRIGGER IF EXISTS audit_auditchainhead_no_truncate ON audit_auditchainhead;
DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_refuse_removal();
"""


def start_head(apps, schema_editor):
    """A chain written before the head existed gets a head where it ends now (signed with today's key)."""
    from django.utils import timezone

    from apps.audit.head import head_signature

    events = apps.get_model("audit", "AuditEvent").objects.using(schema_editor.connection.alias)
    last = events.order_by("-id").values_list("hash", flat=True).first()
    if last is None:
        return  # an empty chain needs no head: the first append writes it
    seq = events.count()
    apps.get_model("audit", "AuditChainHead").objects.using(schema_editor.connection.alias).create(
        pk=1, seq=seq, last_hash=last, signature=head_signature(seq, last), updated_at=timezone.now())


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_chain_head")]
    operations = [
        migrations.RunPython(start_head, migrations.RunPython.noop),
        migrations.RunPython(forwards, backwards),
    ]

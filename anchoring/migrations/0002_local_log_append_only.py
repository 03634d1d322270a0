"""Triggers that keep the local backend's log one unbroken, append-only chain.

0001 makes ``seq``, ``prev_hash`` and ``entry_hash`` unique. These triggers add: an entry links to
the entry just before it (``prev_hash`` = its ``entry_hash``; 64 zeros at seq 0), no entry is ever
edited, and (PostgreSQL) none deleted. SQLite keeps no delete guard, as in ledger 0002, because
Django's test flush empties tables with DELETE there.
"""

from django.db import migrations

PG_FORWARD = r"""
CREATE FUNCTION anchoring_local_log_insert_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT ((NEW.seq = 0 AND NEW.prev_hash = '0000000000000000000000000000000000000000000000000000000000000000') OR EXISTS (
      SELECT 1 FROM anchoring_locallogentry p WHERE p.seq + 1 = NEW.seq AND p.entry_hash = NEW.prev_hash)) THEN
    RAISE EXCEPTION 'anchoring: local log entry % does not follow its predecessor', NEW.seq
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER anchoring_local_log_insert_guard BEFORE INSERT ON anchoring_locallogentry
  FOR EACH ROW EXECUTE FUNCTION anchoring_local_log_insert_guard();

CREATE FUNCTION anchoring_local_log_change_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'anchoring: the local log is append-only' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER anchoring_local_log_update_guard BEFORE UPDATE ON anchoring_locallogentry
  FOR EACH ROW EXECUTE FUNCTION anchoring_local_log_change_guard();
CREATE TRIGGER anchoring_local_log_delete_guard BEFORE DELETE ON anchoring_locallogentry
  FOR EACH ROW EXECUTE FUNCTION anchoring_local_log_change_guard();
"""

PG_REVERSE = r"""
DROP TRIGGER anchoring_local_log_delete_guard ON anchoring_locallogentry;
DROP TRIGGER anchoring_local_log_update_guard ON anchoring_locallogentry;
DROP FUNCTION anchoring_local_log_change_guard();
DROP TRIGGER anchoring_local_log_insert_guard ON anchoring_locallogentry;
DROP FUNCTION anchoring_local_log_insert_guard();
"""

SQLITE_FORWARD = [
    """
    CREATE TRIGGER anchoring_local_log_insert_guard BEFORE INSERT ON anchoring_locallogentry
    WHEN NOT ((NEW.seq = 0 AND NEW.prev_hash = '0000000000000000000000000000000000000000000000000000000000000000') OR EXISTS (
      SELECT 1 FROM anchoring_locallogentry p WHERE p.seq + 1 = NEW.seq AND p.entry_hash = NEW.prev_hash))
    BEGIN SELECT RAISE(ABORT, 'anchoring: local log entry does not follow its predecessor'); END
    """,
    """
    CREATE TRIGGER anchoring_local_log_update_guard BEFORE UPDATE ON anchoring_locallogentry
    BEGIN SELECT RAISE(ABORT, 'anchoring: the local log is append-only'); END
    """,
]

SQLITE_REVERSE = [
    "DROP TRIGGER anchoring_local_log_update_guard",
    "DROP TRIGGER anchoring_local_log_insert_guard",
]


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement, params=None)
    else:
        raise RuntimeError(f"the local anchoring log's triggers are not written for {vendor}")


def reverse(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    statements = [PG_REVERSE] if vendor == "postgresql" else SQLITE_REVERSE
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("anchoring", "0001_initial")]
    operations = [migrations.RunPython(forward, reverse)]

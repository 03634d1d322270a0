"""Triggers that keep every relationship's log a single, unbroken, append-only chain.

Constraints in 0001 refuse a second entry at one sequence number and a fork (``prev_hash`` is
unique). These triggers add what a column constraint cannot say:
- an entry's predecessor is in the same relationship, at the sequence number just before it;
- a stored entry is never edited, except to add a member signature still missing on a genesis;
- (PostgreSQL) an entry is never deleted. SQLite keeps no delete guard, because Django's test
  flush empties tables with DELETE there (PostgreSQL's flush uses TRUNCATE, which row triggers
  do not see).
Each failure raises an integrity error, so two processes racing to append both go through the
same check inside the database.
"""

from django.db import migrations

PG_FORWARD = r"""
CREATE FUNCTION ledger_state_entry_insert_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE p_rel bigint; p_seq bigint;
BEGIN
  IF NEW.prev_hash IS NOT NULL THEN
    SELECT relationship_id, seq INTO p_rel, p_seq FROM ledger_stateentry WHERE state_hash = NEW.prev_hash;
    IF NOT FOUND OR p_rel <> NEW.relationship_id OR NEW.seq <> p_seq + 1 THEN
      RAISE EXCEPTION 'ledger: entry % of relationship % does not follow its predecessor', NEW.seq, NEW.relationship_id
        USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER ledger_state_entry_insert_guard BEFORE INSERT ON ledger_stateentry
  FOR EACH ROW EXECUTE FUNCTION ledger_state_entry_insert_guard();

CREATE FUNCTION ledger_state_entry_update_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id <> OLD.id OR NEW.relationship_id <> OLD.relationship_id OR NEW.seq <> OLD.seq
     OR NEW.state_hash <> OLD.state_hash OR NEW.prev_hash IS DISTINCT FROM OLD.prev_hash
     OR NEW.canonical <> OLD.canonical OR NEW.nonce <> OLD.nonce OR NEW.attest_key IS DISTINCT FROM OLD.attest_key
     OR NEW.attest_sig IS DISTINCT FROM OLD.attest_sig OR NEW.recorded_at <> OLD.recorded_at
     OR (OLD.sig_a IS NOT NULL AND NEW.sig_a IS DISTINCT FROM OLD.sig_a)
     OR (OLD.sig_b IS NOT NULL AND NEW.sig_b IS DISTINCT FROM OLD.sig_b) THEN
    RAISE EXCEPTION 'ledger: state entry % is append-only (only a missing member signature may be added)', OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER ledger_state_entry_update_guard BEFORE UPDATE ON ledger_stateentry
  FOR EACH ROW EXECUTE FUNCTION ledger_state_entry_update_guard();

CREATE FUNCTION ledger_state_entry_delete_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger: state entry % is append-only (delete refused)', OLD.id USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER ledger_state_entry_delete_guard BEFORE DELETE ON ledger_stateentry
  FOR EACH ROW EXECUTE FUNCTION ledger_state_entry_delete_guard();
"""

PG_REVERSE = r"""
DROP TRIGGER ledger_state_entry_delete_guard ON ledger_stateentry;
DROP FUNCTION ledger_state_entry_delete_guard();
DROP TRIGGER ledger_state_entry_update_guard ON ledger_stateentry;
DROP FUNCTION ledger_state_entry_update_guard();
DROP TRIGGER ledger_state_entry_insert_guard ON ledger_stateentry;
DROP FUNCTION ledger_state_entry_insert_guard();
"""

SQLITE_FORWARD = [
    """
    CREATE TRIGGER ledger_state_entry_insert_guard BEFORE INSERT ON ledger_stateentry
    WHEN NEW.prev_hash IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM ledger_stateentry p WHERE p.state_hash = NEW.prev_hash
        AND p.relationship_id = NEW.relationship_id AND p.seq + 1 = NEW.seq)
    BEGIN SELECT RAISE(ABORT, 'ledger: entry does not follow its predecessor'); END
    """,
    """
    CREATE TRIGGER ledger_state_entry_update_guard BEFORE UPDATE ON ledger_stateentry
    WHEN NEW.id IS NOT OLD.id OR NEW.relationship_id IS NOT OLD.relationship_id OR NEW.seq IS NOT OLD.seq
      OR NEW.state_hash IS NOT OLD.state_hash OR NEW.prev_hash IS NOT OLD.prev_hash
      OR NEW.canonical IS NOT OLD.canonical OR NEW.nonce IS NOT OLD.nonce OR NEW.attest_key IS NOT OLD.attest_key
      OR NEW.attest_sig IS NOT OLD.attest_sig OR NEW.recorded_at IS NOT OLD.recorded_at
      OR (OLD.sig_a IS NOT NULL AND NEW.sig_a IS NOT OLD.sig_a)
      OR (OLD.sig_b IS NOT NULL AND NEW.sig_b IS NOT OLD.sig_b)
    BEGIN SELECT RAISE(ABORT, 'ledger: state entries are append-only'); END
    """,
]

SQLITE_REVERSE = [
    "DROP TRIGGER ledger_state_entry_update_guard",
    "DROP TRIGGER ledger_state_entry_insert_guard",
]


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement, params=None)
    else:
        raise RuntimeError(f"the ledger's append-only triggers are not written for {vendor}")


def reverse(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    statements = [PG_REVERSE] if vendor == "postgresql" else SQLITE_REVERSE
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(forward, reverse)]

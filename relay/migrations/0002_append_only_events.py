"""The relay's event log is append-only, and its head row exists from the start.

A stored event is never edited (PostgreSQL and SQLite) and never deleted (PostgreSQL; SQLite keeps
no delete guard because Django's test flush empties tables with DELETE there, as in the ledger's
0002). State rows are derived from events and change; events do not.
"""

from django.db import migrations

PG_FORWARD = r"""
CREATE FUNCTION relay_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'relay: event % is append-only (% refused)', OLD.event_id, TG_OP USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER relay_event_append_only BEFORE UPDATE OR DELETE ON relay_event
  FOR EACH ROW EXECUTE FUNCTION relay_event_append_only();
"""

PG_REVERSE = r"""
DROP TRIGGER relay_event_append_only ON relay_event;
DROP FUNCTION relay_event_append_only();
"""

SQLITE_FORWARD = """
CREATE TRIGGER relay_event_append_only BEFORE UPDATE ON relay_event
BEGIN SELECT RAISE(ABORT, 'relay: events are append-only'); END
"""

SQLITE_REVERSE = "DROP TRIGGER relay_event_append_only"


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD, params=None)
    else:
        raise RuntimeError(f"the relay's append-only trigger is not written for {vendor}")
    apps.get_model("relay", "LogHead").objects.using(schema_editor.connection.alias).get_or_create(
        id=1, defaults={"last_cursor": 0}
    )


def reverse(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    schema_editor.execute(PG_REVERSE if vendor == "postgresql" else SQLITE_REVERSE, params=None)


class Migration(migrations.Migration):
    dependencies = [("relay", "0001_initial")]
    operations = [migrations.RunPython(forward, reverse)]

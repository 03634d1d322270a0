"""History rows lose their database foreign key to the trustline (see ``HistoryRow.trustline``).

What the key guarded is kept: on PostgreSQL a trustline that history rows refer to cannot be
deleted (a trigger, checked once per deleted trustline, never per history row written);
``reconcile_legacy`` reports any history row whose trustline is missing, on every database.
"""

import django.db.models.deletion
from django.db import migrations, models

PG_FORWARD = r"""
CREATE FUNCTION migration_trustline_delete_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM migration_historyrow WHERE trustline_id = OLD.legacy_id) THEN
    RAISE EXCEPTION 'migration: trustline % has imported history rows (delete refused)', OLD.legacy_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN OLD;
END $$;
CREATE TRIGGER migration_trustline_delete_guard BEFORE DELETE ON migration_trustline
  FOR EACH ROW EXECUTE FUNCTION migration_trustline_delete_guard();
"""

PG_REVERSE = r"""
DROP TRIGGER migration_trustline_delete_guard ON migration_trustline;
DROP FUNCTION migration_trustline_delete_guard();
"""


# Not on SQLite: Django's test flush empties its tables with DELETE (PostgreSQL's uses TRUNCATE).
def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)


def reverse(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("migration", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="historyrow",
            name="trustline",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="history",
                to="migration.trustline",
            ),
        ),
        migrations.RunPython(forward, reverse),
    ]

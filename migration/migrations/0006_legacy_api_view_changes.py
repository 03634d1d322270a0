"""Changes to what the legacy API shows a member, recorded by the database itself.

Cached legacy answers (``migration.api.freshness``) stay valid while the changes recorded for
their member do not move. The triggers write ``migration_viewchange`` rows whatever writes the
data (the import, the legacy API, hosted payments, an operator's SQL), so no code path can forget
to: a trustline, the relationship it became, a contact, a member's names or status (and then
their counterparties too), a revoked token. On PostgreSQL they run once per statement over its
transition tables (a bulk insert of the import is one more insert, not one per row) and only
insert (no row is updated, so concurrent writers never wait on each other here); on SQLite,
once per row.
"""

# The SQL below is assembled from this file's constants only, never from input.
# ruff: noqa: S608

from django.db import migrations, models

VIEW_CHANGE = "migration_viewchange"

# What cached answers read of each table; an update that changes none of these records nothing
# (the import's running history_* columns move on every batch).
TRUSTLINE_COLUMNS = (
    "relationship_id",
    "community",
    "user_a_legacy_id",
    "user_b_legacy_id",
    "credit_limit_a_to_b",
    "credit_limit_b_to_a",
    "cached_balance",
    "is_active",
    "established_date",
    "last_activity",
    "notes",
)
MEMBER_COLUMNS = (
    "party_id",
    "community",
    "foaf_id",
    "foaf_address",
    "user_name",
    "name",
    "nickname",
    "first_name",
    "last_name",
    "display_name",
    "email",
    "deleted_at",
    "disabled_at",
)


def _differ(new: str, old: str, columns: tuple[str, ...]) -> str:
    return " OR ".join(f"{new}.{c} IS DISTINCT FROM {old}.{c}" for c in columns)


def _sqlite_differ(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


def _counterparties(ids: str) -> str:
    """The members themselves and everyone holding a trustline with them; ``ids`` is a query of legacy_id."""
    return (
        f"SELECT legacy_id FROM ({ids}) AS c0 "
        f"UNION SELECT t.user_b_legacy_id FROM migration_trustline t JOIN ({ids}) AS c1 ON t.user_a_legacy_id = c1.legacy_id "
        f"UNION SELECT t.user_a_legacy_id FROM migration_trustline t JOIN ({ids}) AS c2 ON t.user_b_legacy_id = c2.legacy_id"
    )


def _pair(rows: str, a: str, b: str) -> str:
    return f"SELECT {a} FROM {rows} UNION SELECT {b} FROM {rows}"


# name, table, event, transition tables, members query over them
PG_TRIGGERS = [
    (
        "trustline_insert",
        "migration_trustline",
        "INSERT",
        "NEW TABLE AS new_rows",
        _pair("new_rows", "user_a_legacy_id", "user_b_legacy_id"),
    ),
    (
        "trustline_update",
        "migration_trustline",
        "UPDATE",
        "NEW TABLE AS new_rows OLD TABLE AS old_rows",
        "SELECT x FROM (SELECT n.user_a_legacy_id, n.user_b_legacy_id, o.user_a_legacy_id, o.user_b_legacy_id"
        " FROM new_rows n JOIN old_rows o ON o.legacy_id = n.legacy_id"
        f" WHERE {_differ('n', 'o', TRUSTLINE_COLUMNS)}) AS d(a1, b1, a0, b0)"
        " CROSS JOIN LATERAL (VALUES (a1), (b1), (a0), (b0)) AS v(x)",
    ),
    (
        "trustline_delete",
        "migration_trustline",
        "DELETE",
        "OLD TABLE AS old_rows",
        _pair("old_rows", "user_a_legacy_id", "user_b_legacy_id"),
    ),
    (
        "relationship_update",
        "ledger_relationship",
        "UPDATE",
        "NEW TABLE AS new_rows",
        "SELECT t.user_a_legacy_id FROM migration_trustline t JOIN new_rows n ON t.relationship_id = n.id"
        " UNION SELECT t.user_b_legacy_id FROM migration_trustline t JOIN new_rows n ON t.relationship_id = n.id",
    ),
    (
        "contact_insert",
        "migration_contact",
        "INSERT",
        "NEW TABLE AS new_rows",
        _pair("new_rows", "user_legacy_id", "friend_legacy_id"),
    ),
    (
        "contact_update",
        "migration_contact",
        "UPDATE",
        "NEW TABLE AS new_rows OLD TABLE AS old_rows",
        f"{_pair('new_rows', 'user_legacy_id', 'friend_legacy_id')} UNION {_pair('old_rows', 'user_legacy_id', 'friend_legacy_id')}",
    ),
    (
        "contact_delete",
        "migration_contact",
        "DELETE",
        "OLD TABLE AS old_rows",
        _pair("old_rows", "user_legacy_id", "friend_legacy_id"),
    ),
    (
        "member_update",
        "migration_member",
        "UPDATE",
        "NEW TABLE AS new_rows OLD TABLE AS old_rows",
        _counterparties(
            "SELECT n.legacy_id FROM new_rows n JOIN old_rows o ON o.legacy_id = n.legacy_id"
            f" WHERE {_differ('n', 'o', MEMBER_COLUMNS)}"
        ),
    ),
    (
        "member_delete",
        "migration_member",
        "DELETE",
        "OLD TABLE AS old_rows",
        _counterparties("SELECT legacy_id FROM old_rows"),
    ),
    (
        "revokedtoken_insert",
        "migration_revokedtoken",
        "INSERT",
        "NEW TABLE AS new_rows",
        "SELECT 0 WHERE EXISTS (SELECT 1 FROM new_rows)",
    ),
    (
        "revokedtoken_update",
        "migration_revokedtoken",
        "UPDATE",
        "NEW TABLE AS new_rows",
        "SELECT 0 WHERE EXISTS (SELECT 1 FROM new_rows)",
    ),
    (
        "revokedtoken_delete",
        "migration_revokedtoken",
        "DELETE",
        "OLD TABLE AS old_rows",
        "SELECT 0 WHERE EXISTS (SELECT 1 FROM old_rows)",
    ),
    (
        "sessionrevocation_insert",
        "migration_sessionrevocation",
        "INSERT",
        "NEW TABLE AS new_rows",
        "SELECT COALESCE(member_legacy_id, 0) FROM new_rows",
    ),
    (
        "sessionrevocation_delete",
        "migration_sessionrevocation",
        "DELETE",
        "OLD TABLE AS old_rows",
        "SELECT COALESCE(member_legacy_id, 0) FROM old_rows",
    ),
]


def _pg_forward() -> list[str]:
    statements = []
    for name, table, event, referencing, members in PG_TRIGGERS:
        function = f"migration_view_change_{name}"
        statements.append(
            f"""
            CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO {VIEW_CHANGE} (member_legacy_id, weight)
              SELECT DISTINCT m, 1 FROM ({members}) AS changed(m) WHERE m IS NOT NULL;
              RETURN NULL;
            END $$
            """
        )
        statements.append(
            f"CREATE TRIGGER {function} AFTER {event} ON {table} REFERENCING {referencing}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    return statements


def _pg_reverse() -> list[str]:
    statements = []
    for name, table, *_ in PG_TRIGGERS:
        function = f"migration_view_change_{name}"
        statements.append(f"DROP TRIGGER {function} ON {table}")
        statements.append(f"DROP FUNCTION {function}()")
    return statements


def _sqlite_insert(members: str) -> str:
    return f"INSERT INTO {VIEW_CHANGE} (member_legacy_id, weight) SELECT m, 1 FROM ({members}) WHERE m IS NOT NULL;"


def _sqlite_counterparties(member: str) -> str:
    return (
        f"SELECT {member} AS m"
        f" UNION SELECT user_b_legacy_id FROM migration_trustline WHERE user_a_legacy_id = {member}"
        f" UNION SELECT user_a_legacy_id FROM migration_trustline WHERE user_b_legacy_id = {member}"
    )


# name, table, event (or event and its WHEN), members query over NEW/OLD
SQLITE_TRIGGERS = [
    (
        "trustline_insert",
        "migration_trustline",
        "INSERT",
        "SELECT NEW.user_a_legacy_id AS m UNION SELECT NEW.user_b_legacy_id",
    ),
    (
        "trustline_update",
        "migration_trustline",
        ("UPDATE", _sqlite_differ(TRUSTLINE_COLUMNS)),
        "SELECT NEW.user_a_legacy_id AS m UNION SELECT NEW.user_b_legacy_id"
        " UNION SELECT OLD.user_a_legacy_id UNION SELECT OLD.user_b_legacy_id",
    ),
    (
        "trustline_delete",
        "migration_trustline",
        "DELETE",
        "SELECT OLD.user_a_legacy_id AS m UNION SELECT OLD.user_b_legacy_id",
    ),
    (
        "relationship_update",
        "ledger_relationship",
        "UPDATE",
        "SELECT user_a_legacy_id AS m FROM migration_trustline WHERE relationship_id = NEW.id"
        " UNION SELECT user_b_legacy_id FROM migration_trustline WHERE relationship_id = NEW.id",
    ),
    (
        "contact_insert",
        "migration_contact",
        "INSERT",
        "SELECT NEW.user_legacy_id AS m UNION SELECT NEW.friend_legacy_id",
    ),
    (
        "contact_update",
        "migration_contact",
        "UPDATE",
        "SELECT NEW.user_legacy_id AS m UNION SELECT NEW.friend_legacy_id"
        " UNION SELECT OLD.user_legacy_id UNION SELECT OLD.friend_legacy_id",
    ),
    (
        "contact_delete",
        "migration_contact",
        "DELETE",
        "SELECT OLD.user_legacy_id AS m UNION SELECT OLD.friend_legacy_id",
    ),
    (
        "member_update",
        "migration_member",
        ("UPDATE", _sqlite_differ(MEMBER_COLUMNS)),
        _sqlite_counterparties("NEW.legacy_id"),
    ),
    ("member_delete", "migration_member", "DELETE", _sqlite_counterparties("OLD.legacy_id")),
    ("revokedtoken_insert", "migration_revokedtoken", "INSERT", "SELECT 0 AS m"),
    ("revokedtoken_update", "migration_revokedtoken", "UPDATE", "SELECT 0 AS m"),
    ("revokedtoken_delete", "migration_revokedtoken", "DELETE", "SELECT 0 AS m"),
    (
        "sessionrevocation_insert",
        "migration_sessionrevocation",
        "INSERT",
        "SELECT COALESCE(NEW.member_legacy_id, 0) AS m",
    ),
    (
        "sessionrevocation_delete",
        "migration_sessionrevocation",
        "DELETE",
        "SELECT COALESCE(OLD.member_legacy_id, 0) AS m",
    ),
]


def _sqlite_forward() -> list[str]:
    statements = []
    for name, table, event, members in SQLITE_TRIGGERS:
        verb, when = event if isinstance(event, tuple) else (event, None)
        condition = f" WHEN {when}" if when else ""
        statements.append(
            f"CREATE TRIGGER migration_view_change_{name} AFTER {verb} ON {table} FOR EACH ROW{condition}"
            f" BEGIN {_sqlite_insert(members)} END"
        )
    return statements


def _sqlite_reverse() -> list[str]:
    return [f"DROP TRIGGER migration_view_change_{name}" for name, *_ in SQLITE_TRIGGERS]


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = _pg_forward()
    elif vendor == "sqlite":
        statements = _sqlite_forward()
    else:
        raise RuntimeError(f"the legacy API's view-change triggers are not written for {vendor}")
    for statement in statements:
        schema_editor.execute(statement)


def reverse(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    for statement in _pg_reverse() if vendor == "postgresql" else _sqlite_reverse():
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("migration", "0005_legacy_api_pending_payment_actions"),
        ("ledger", "0004_route_node_disputed"),
    ]

    operations = [
        migrations.CreateModel(
            name="ViewChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("member_legacy_id", models.BigIntegerField(db_index=True)),
                ("weight", models.BigIntegerField(default=1)),
            ],
        ),
        migrations.AlterField(
            model_name="trustline",
            name="user_a_legacy_id",
            field=models.BigIntegerField(db_index=True),
        ),
        migrations.AlterField(
            model_name="trustline",
            name="user_b_legacy_id",
            field=models.BigIntegerField(db_index=True),
        ),
        migrations.RunPython(forward, reverse),
    ]

"""foaf.bulk: the import's plain-row writes (binary COPY on PostgreSQL, executemany elsewhere)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DataError, connection, transaction

from foaf.bulk import insert_rows, insert_rows_with_ids, update_rows
from foaf.ledger.models import Party
from migration import models as m

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2025, 7, 17, 19, 30, 54, 123456)  # naive, meaning UTC


def test_aware_and_naive_utc_datetimes_are_stored_as_the_same_moment() -> None:
    insert_rows(m.RevokedToken, ["legacy_id", "jti", "exp"], [(1, "aware", MOMENT.replace(tzinfo=dt.UTC))])
    insert_rows(m.RevokedToken, ["legacy_id", "jti", "exp"], [(2, "naive", MOMENT)], naive_utc=True)
    assert list(m.RevokedToken.objects.order_by("pk").values_list("jti", "exp")) == [
        ("aware", MOMENT.replace(tzinfo=dt.UTC)),
        ("naive", MOMENT.replace(tzinfo=dt.UTC)),
    ]


def test_every_column_type_the_import_writes_round_trips() -> None:
    at = MOMENT.replace(tzinfo=dt.UTC)
    values = (7, 3, None, "Eggs", Decimal("1.50000"), 250, None, True, False, at, at)
    fields = ["legacy_id", "member_legacy_id", "category_legacy_id", "name", "quantity", "price", "date_available",
              "organic", "one_time_listing", "created_at", "updated_at"]  # fmt: skip
    insert_rows(m.Listing, fields, [values])
    assert m.Listing.objects.values_list(*fields).get() == values


def test_new_ids_come_back_in_row_order() -> None:
    now = dt.datetime.now(dt.UTC)
    rows = [(f"{i:064x}", f"{i:064x}", f"member {i}", now) for i in range(1, 6)]
    ids = insert_rows_with_ids(Party, ["party_id", "public_key", "display_name", "created_at"], rows)
    assert [Party.objects.get(pk=i).display_name for i in ids] == [f"member {i}" for i in range(1, 6)]


def test_a_value_of_the_wrong_type_is_refused_and_nothing_is_written() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite stores any value in any column")
    with pytest.raises((DataError, TypeError, ValueError)), transaction.atomic():
        insert_rows(m.Category, ["legacy_id", "name"], [(1, "ok"), ("two", "not an id")])
    assert not m.Category.objects.exists()


def test_update_rows_changes_only_the_named_rows() -> None:
    insert_rows(m.Category, ["legacy_id", "name"], [(1, "a"), (2, "b"), (3, "c")])
    with transaction.atomic():
        update_rows(m.Category, "legacy_id", ["name"], [("B", 2), ("C", 3)])
    assert list(m.Category.objects.order_by("pk").values_list("name", flat=True)) == ["a", "B", "C"]

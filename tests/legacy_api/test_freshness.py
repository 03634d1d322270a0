"""What the legacy API keeps between requests (``migration.api.freshness``) is never served once the
database changed what it was made from, whoever changed it: the legacy API, another code path,
bulk SQL, another process; and a kept token is refused as soon as it is revoked, its member is
disabled, it expires or the bridge is switched off.

These tests commit (``transaction=True``): nothing is kept inside a transaction, and the other
legacy API tests all run inside one, so they exercise the uncached path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.models import Q
from django.test import Client

from foaf.ledger.models import Relationship
from migration import models as m
from migration.api import auth, freshness, lines
from tests.legacy_api.conftest import IDA, Tokens, bearer

pytestmark = pytest.mark.django_db(transaction=True)

OLU, MAE = 3, 4


class Counted:
    """``lines.listing`` with a count of how often the listing was really built."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.builds = 0
        real = lines.listing

        def counted(member: m.Member) -> Any:
            self.builds += 1
            return real(member)

        monkeypatch.setattr(lines, "listing", counted)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Counted:
    return Counted(monkeypatch)


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    freshness.forget()
    yield
    freshness.forget()


def listing(token: str) -> Any:
    r = Client().get("/v1/trustlines", headers=bearer(token))
    assert r.status_code == 200, r.content
    return r.json()


def line(answer: Any, line_id: int) -> Any:
    return next(x for x in answer if x["id"] == line_id)


def test_a_listing_is_built_once_and_served_again_while_nothing_changed(
    imported: dict[int, m.Member], tokens: Tokens, builds: Counted
) -> None:
    token = tokens.v1(IDA)
    first = listing(token)
    assert listing(token) == first and listing(token) == first
    assert builds.builds == 1
    # The summary is kept apart, and follows the same rule.
    client = Client()
    s1 = client.get("/v1/trustlines/summary", headers=bearer(token)).json()
    assert client.get("/v1/trustlines/summary", headers=bearer(token)).json() == s1
    assert len(freshness.answers) == 2


def test_a_payment_through_the_api_is_seen_at_once(
    imported: dict[int, m.Member], tokens: Tokens, builds: Counted
) -> None:
    ida, olu = tokens.v1(IDA), tokens.v1(OLU)
    assert line(listing(ida), 1)["current_balance"] == -40.0
    assert line(listing(olu), 1)["current_balance"] == 40.0
    r = Client().post(
        "/v1/trustlines/1/payment", json.dumps({"amount": "2.5"}), content_type="application/json", headers=bearer(ida)
    )
    assert r.status_code == 200, r.json()
    # Both sides' listings move: the payer's and the counterparty's kept answers are both stale.
    assert line(listing(ida), 1)["current_balance"] == -37.5
    assert line(listing(olu), 1)["current_balance"] == 37.5
    assert builds.builds == 4


@pytest.mark.parametrize(
    "change",
    [
        # the bilateral head moved by another code path (a hosted payment, a relay delivery)
        lambda: Relationship.objects.filter(legacy_trustline__legacy_id=1).update(balance=-1234),
        # a Rails column the listing shows, in bulk (the catch-up import writes so)
        lambda: m.Trustline.objects.filter(legacy_id=1).update(notes="moved"),
        # the counterparty renamed themselves
        lambda: m.Member.objects.filter(legacy_id=OLU).update(nickname="Olu B."),
        # Ida labelled Mae anew
        lambda: m.Contact.objects.filter(
            Q(user_legacy_id=IDA, friend_legacy_id=MAE) | Q(user_legacy_id=MAE, friend_legacy_id=IDA)
        ).update(user_label="Mae!", friend_label="Mae!"),
        # the line was closed
        lambda: m.Trustline.objects.filter(legacy_id=2).update(is_active=False),
    ],
    ids=["relationship", "trustline", "counterparty-name", "label", "closed"],
)
def test_any_change_to_what_a_listing_shows_is_seen_at_once(
    imported: dict[int, m.Member], tokens: Tokens, builds: Counted, change: Any
) -> None:
    token = tokens.v1(IDA)
    before = listing(token)
    assert change() >= 1
    after = listing(token)
    assert after != before
    assert builds.builds == 2
    freshness.forget()
    assert listing(token) == after  # what was served is what a fresh build answers


def test_a_change_elsewhere_keeps_the_answer(imported: dict[int, m.Member], tokens: Tokens, builds: Counted) -> None:
    token = tokens.v1(IDA)
    listing(token)
    # Lines Ida does not hold, and columns no answer reads (the import's running history state).
    m.Trustline.objects.filter(legacy_id=3).update(notes="not Ida's")
    m.Trustline.objects.filter(legacy_id=1).update(history_rows=99)
    m.Member.objects.filter(legacy_id=IDA).update(sign_in_count=42)
    listing(token)
    assert builds.builds == 1


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="a second PostgreSQL session")
def test_a_change_committed_by_another_process_is_seen_at_once(
    imported: dict[int, m.Member], tokens: Tokens, builds: Counted
) -> None:
    import psycopg

    token = tokens.v1(IDA)
    assert line(listing(token), 2)["current_balance"] == 30.0
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True) as other:
        other.execute(
            "UPDATE ledger_relationship SET balance = 4321"
            " WHERE id = (SELECT relationship_id FROM migration_trustline WHERE legacy_id = 2)"
        )
    assert line(listing(token), 2)["current_balance"] == 43.21


def test_a_kept_token_is_refused_once_revoked_by_logout(imported: dict[int, m.Member], tokens: Tokens) -> None:
    token = tokens.v1(IDA)
    client = Client()
    assert client.get("/v1/trustlines", headers=bearer(token)).status_code == 200
    assert client.get("/v1/trustlines", headers=bearer(token)).status_code == 200  # kept
    assert client.delete("/v1/sessions", headers=bearer(token)).status_code == 200
    r = client.get("/v1/trustlines", headers=bearer(token))
    assert (r.status_code, r.content) == (401, b"")


def test_a_kept_token_is_refused_once_its_jti_is_blacklisted(imported: dict[int, m.Member], tokens: Tokens) -> None:
    token = tokens.v1(IDA, jti="jti-to-blacklist")
    assert Client().get("/v1/trustlines", headers=bearer(token)).status_code == 200
    m.RevokedToken.objects.create(legacy_id=9_999, jti="jti-to-blacklist", exp="2099-01-01T00:00:00Z")
    assert Client().get("/v1/trustlines", headers=bearer(token)).status_code == 401


def test_a_kept_token_is_refused_once_its_member_is_disabled(imported: dict[int, m.Member], tokens: Tokens) -> None:
    token = tokens.rs256()
    assert Client().get("/v1/trustlines", headers=bearer(token)).status_code == 200
    m.Member.objects.filter(legacy_id=IDA).update(disabled_at="2026-11-26T00:00:00Z")
    assert Client().get("/v1/trustlines", headers=bearer(token)).status_code == 401


def test_a_kept_token_expires_on_time(imported: dict[int, m.Member], tokens: Tokens) -> None:
    exp = int(time.time()) + 2
    token = tokens.v1(IDA, exp=exp)
    assert Client().get("/v1/trustlines", headers=bearer(token)).status_code == 200
    assert Client().get("/v1/trustlines", headers=bearer(token)).status_code == 200  # kept
    time.sleep(max(exp - time.time(), 0) + 0.2)
    assert Client().get("/v1/trustlines", headers=bearer(token)).status_code == 401


def test_a_kept_hs256_token_gets_the_retired_answer_once_the_bridge_is_off(
    imported: dict[int, m.Member], tokens: Tokens, settings: Any
) -> None:
    token = tokens.v1(IDA)
    assert Client().get("/v1/trustlines", headers=bearer(token)).status_code == 200
    settings.LEGACY_HS256_BRIDGE_ENABLED = False
    r = Client().get("/v1/trustlines", headers=bearer(token))
    assert (r.status_code, r.json()) == (401, auth.BRIDGE_RETIRED_BODY)


def test_compaction_keeps_every_sum(imported: dict[int, m.Member], tokens: Tokens, builds: Counted) -> None:
    token = tokens.v1(IDA)
    for amount in ("1", "2", "3"):
        r = Client().post(
            "/v1/trustlines/2/payment", json.dumps({"amount": amount}), content_type="application/json",
            headers=bearer(token),
        )  # fmt: skip
        assert r.status_code == 200
    members = set(m.ViewChange.objects.values_list("member_legacy_id", flat=True))
    before = {x: freshness.marks_of(x)[0] for x in members}
    rows = m.ViewChange.objects.count()
    removed = freshness.compact()
    assert removed == rows - len(members) > 0
    assert m.ViewChange.objects.count() == len(members)
    assert {x: freshness.marks_of(x)[0] for x in members} == before
    assert freshness.compact() == 0  # a second run folds nothing
    # And the next change still moves the marks past anything kept before.
    served = listing(token)
    m.Trustline.objects.filter(legacy_id=2).update(notes="after compaction")
    assert listing(token) != served


def test_nothing_is_kept_inside_a_transaction(imported: dict[int, m.Member], tokens: Tokens, builds: Counted) -> None:
    from django.db import transaction

    token = tokens.v1(IDA)
    with transaction.atomic():
        listing(token)
        listing(token)
    assert builds.builds == 2 and len(freshness.answers) == 0


def test_the_cache_sizes_bound_what_is_kept(
    imported: dict[int, m.Member], tokens: Tokens, settings: Any, builds: Counted
) -> None:
    settings.LEGACY_API_CACHE_ANSWERS = 1
    ida, olu = tokens.v1(IDA), tokens.v1(OLU)
    listing(ida), listing(olu), listing(ida)
    assert builds.builds == 3 and len(freshness.answers) == 1
    settings.LEGACY_API_CACHE_ANSWERS = 0
    listing(ida), listing(ida)
    assert builds.builds == 5 and len(freshness.answers) == 0


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the statement prepared on PostgreSQL")
def test_the_marks_statement_is_prepared_in_each_new_session(imported: dict[int, m.Member]) -> None:
    from django.db import transaction

    connection.close()  # a new session: the statement is not prepared there yet
    first = freshness.marks_of(IDA)
    assert first == freshness.marks_of(IDA)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = 'foaf_view_marks'")
        assert cursor.fetchone()[0] == 1
    connection.close()
    assert freshness.marks_of(IDA) == first
    # Inside a transaction the cursor answers the same (a failure there must not abort it).
    with transaction.atomic():
        assert freshness.marks_of(IDA) == first
        m.Trustline.objects.filter(legacy_id=1).update(notes="inside")
        inside = freshness.marks_of(IDA)
        assert inside[0] == first[0] + 1
    assert freshness.marks_of(IDA) == inside


def test_a_kept_answer_is_served_before_the_view_with_the_views_own_headers(
    imported: dict[int, m.Member], tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migration.api import trustline_views as tv

    dispatched: list[str] = []
    real_get = tv.TrustlinesView.get

    def counted_get(self: Any, request: Any) -> Any:
        dispatched.append(request.path)
        return real_get(self, request)

    monkeypatch.setattr(tv.TrustlinesView, "get", counted_get)
    token = tokens.v1(IDA)
    client = Client()
    built = client.get("/v1/trustlines", headers=bearer(token))  # through DRF: built and kept
    kept = client.get("/v1/trustlines", headers=bearer(token))  # from the middleware
    assert dispatched == ["/v1/trustlines"]
    assert kept.content == built.content

    def headers(response: Any) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k != "X-Request-ID"}

    assert headers(kept) == headers(built)
    assert "Allow" in headers(kept)
    # A query string, another verb, no token or an unknown one: the view answers, as before.
    client.get("/v1/trustlines?page=2", headers=bearer(token))
    client.head("/v1/trustlines", headers=bearer(token))
    assert client.get("/v1/trustlines").status_code == 401
    assert client.get("/v1/trustlines", headers=bearer(tokens.v1(OLU))).status_code == 200
    assert dispatched == ["/v1/trustlines"] * 4

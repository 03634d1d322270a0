"""The operator's cohorts: ``manage.py cohort``, the admin's actions and views, and the progress
counts (claimed, in progress, pending, counterparties countersigned, recovered)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from foaf.custody import services as custody
from foaf.custody.models import Claim, Cohort, CohortMember
from migration import models as m
from tests.custody.conftest import IDA, MAE, OLU, ZOE, Phone

pytestmark = pytest.mark.django_db


def cohort(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("cohort", *args, "--json", stdout=out)
    return dict(json.loads(out.getvalue()))


def test_the_operator_runs_a_cohort_from_the_command_line(members: dict[int, m.Member]) -> None:
    assert cohort("create", "spring", "--note", "market vendors")["status"] == "draft"
    added = cohort("add", "spring", "--legacy-id", str(IDA), "--user-name", "olubergstrom3")
    added = cohort("add", "spring", "--party", members[MAE].party.party_id, "--legacy-id", str(IDA))  # again: kept
    assert added["members"] == 3 and added["pending"] == 3 and added["claimed"] == 0
    assert cohort("open", "spring")["status"] == "open"
    assert cohort("pause", "spring")["status"] == "paused"
    assert cohort("open", "spring")["status"] == "open"
    listed = cohort("status")["cohorts"]
    assert [c["cohort"] for c in listed] == ["spring"]
    assert cohort("close", "spring")["status"] == "closed"
    row = Cohort.objects.get(name="spring")
    assert row.opened_at and row.paused_at and row.closed_at and row.note == "market vendors"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("create", "spring"), "cohort_exists"),
        (("open", "nope"), "unknown_cohort"),
        (("add", "spring", "--legacy-id", "999"), "unknown_member"),
        (("add", "spring"), "invalid_request"),
        (("add", "other", "--legacy-id", str(IDA)), "already_in_cohort"),
        (("pause", "spring"), "cohort_bad_change"),  # a draft is opened before it is paused
    ],
)
def test_refusals_name_their_code_and_change_nothing(
    members: dict[int, m.Member], args: tuple[str, ...], code: str
) -> None:
    cohort("create", "spring")
    cohort("add", "spring", "--legacy-id", str(IDA))
    cohort("create", "other")
    with pytest.raises(CommandError, match=f"^{code}: "):
        call_command("cohort", *args)
    assert CohortMember.objects.count() == 1
    assert set(Cohort.objects.values_list("status", flat=True)) == {"draft"}


def test_a_closed_cohort_stays_closed(members: dict[int, m.Member]) -> None:
    cohort("create", "spring")
    cohort("close", "spring")
    for verb in ("open", "pause"):
        with pytest.raises(CommandError, match=r"^cohort_bad_change: "):
            call_command("cohort", verb, "spring")
    with pytest.raises(CommandError, match=r"^cohort_bad_change: "):
        call_command("cohort", "add", "spring", "--legacy-id", str(IDA))


def test_progress_counts_claims_countersignatures_and_recoveries(members: dict[int, m.Member], cohort: Cohort) -> None:
    start = custody.cohort_progress(cohort)
    assert (start["members"], start["pending"], start["claimed"], start["recovered"]) == (3, 3, 0, 0)
    Phone(b"\x71" * 32, IDA).claim()
    Phone(b"\x72" * 32, OLU).start()  # started, not confirmed
    progress = custody.cohort_progress(cohort)
    assert (progress["claimed"], progress["in_progress"], progress["pending"]) == (1, 1, 1)
    assert progress["counterparties_countersigned"] == 2  # Ida's two lines, by Olu's and Mae's held keys
    assert progress["genesis_countersigned_on_behalf"] == 2
    # Recovery's integration point: the member is counted as recovered (and only once).
    mae = members[MAE].party
    assert custody.member_recovered(mae, new_key="ab" * 32, at=timezone.now())
    assert not custody.member_recovered(mae, new_key="ab" * 32, at=timezone.now())
    assert not custody.member_recovered(members[ZOE].party, new_key="cd" * 32, at=timezone.now())  # no cohort
    progress = custody.cohort_progress(cohort)
    assert (progress["recovered"], progress["pending"]) == (1, 0)


def test_the_admin_shows_progress_and_opens_pauses_and_closes(members: dict[int, m.Member]) -> None:
    operator = get_user_model().objects.create_superuser("operator", "op@example.org", "pw")
    client = Client()
    client.force_login(operator)
    management = {"members-TOTAL_FORMS": 0, "members-INITIAL_FORMS": 0}  # the members inline, read-only
    r = client.post("/admin/custody/cohort/add/", {"name": "spring", "note": "vendors", **management})
    assert r.status_code == 302
    spring = Cohort.objects.get(name="spring")
    assert (spring.status, spring.note) == ("draft", "vendors")
    custody.cohort_add(spring, [members[IDA].party])
    r = client.get("/admin/custody/cohort/")
    assert r.status_code == 200 and b"spring" in r.content
    for action, status in (("cohort_open", "open"), ("cohort_paused", "paused"), ("cohort_closed", "closed")):
        r = client.post("/admin/custody/cohort/", {"action": action, "_selected_action": [spring.pk]}, follow=True)
        assert r.status_code == 200
        spring.refresh_from_db()
        assert spring.status == status
    # A refused change is reported, not applied.
    r = client.post("/admin/custody/cohort/", {"action": "cohort_open", "_selected_action": [spring.pk]}, follow=True)
    spring.refresh_from_db()
    assert spring.status == "closed" and b"cannot become open" in r.content
    assert client.get(f"/admin/custody/cohort/{spring.pk}/change/").status_code == 200


def test_the_admin_lists_claims_with_their_steps_and_cancels_one(members: dict[int, m.Member], cohort: Cohort) -> None:
    operator = get_user_model().objects.create_superuser("operator", "op@example.org", "pw")
    client = Client()
    client.force_login(operator)
    Phone(b"\x73" * 32, IDA).claim()
    Phone(b"\x74" * 32, OLU).start()
    r = client.get("/admin/custody/claim/")
    assert r.status_code == 200 and b"complete" in r.content and b"confirm_on_device" in r.content
    done = Claim.objects.get(status="complete")
    assert client.get(f"/admin/custody/claim/{done.pk}/change/").status_code == 200
    open_one = Claim.objects.get(status="confirm_on_device")
    r = client.post(
        "/admin/custody/claim/", {"action": "cancel", "_selected_action": [done.pk, open_one.pk]}, follow=True
    )
    assert r.status_code == 200
    assert dict(Claim.objects.values_list("pk", "status")) == {done.pk: "complete", open_one.pk: "cancelled"}
    assert client.get("/admin/custody/cohortmember/").status_code == 200

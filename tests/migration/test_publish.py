"""Publishing the imported community on the relay (migration.publish, ``publish_to_relay``)."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from foaf.ledger.models import HeldKey
from foaf.ledger.services import head_state, held_key_destroy
from migration import models as m
from migration.legacy.source import DumpSource
from migration.publish import listing_id, publish_imported
from relay.models import Event
from relay.protocol import parse_event
from tests.migration.conftest import Snapshot
from tests.migration.test_import import SMALL, run_import

pytestmark = pytest.mark.django_db


def served_graph(client: Client) -> dict[tuple[str, str], dict[str, Any]]:
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    after = ""
    while True:
        page = client.get("/relay/v1/graph", {"limit": 500, **({"after": after} if after else {})}).json()
        for edge in page["edges"]:
            edges[(edge["a"], edge["b"])] = edge
        if not page.get("next"):
            return edges
        after = page["next"]


def test_the_community_is_published_as_the_bilateral_state_says_and_demo_accounts_stay_off(
    snapshot: Snapshot, client: Client
) -> None:
    sql, _ = snapshot(*SMALL)
    run_import(DumpSource(str(sql)))
    done = publish_imported(now=int(time.time())).as_json()
    graph = served_graph(client)
    open_lines = m.Trustline.objects.filter(community=m.Community.CRAWFORD_BAY, relationship__isnull=False)
    expected = {}
    for line in open_lines.select_related("relationship"):
        assert line.relationship is not None
        state = head_state(line.relationship)
        if state.status != "open":
            continue
        if state.a.key < state.b.key:
            expected[(state.a.key, state.b.key)] = (state.limit_a_to_b, state.limit_b_to_a)
        else:  # the relay names the parties in key order: the limits swap with them
            expected[(state.b.key, state.a.key)] = (state.limit_b_to_a, state.limit_a_to_b)
    assert expected, "the snapshot has open relationships"
    assert {pair: (e["limit_a_to_b"], e["limit_b_to_a"]) for pair, e in graph.items()} == expected
    assert done["relationship"]["stored"] == len(expected)

    members = m.Member.objects.select_related("party")
    demo_keys = {mem.party.public_key for mem in members if mem.community == m.Community.DEMO}
    assert demo_keys, "the snapshot has demo accounts"
    assert not demo_keys & {key for pair in graph for key in pair}
    community = [mem for mem in members if mem.community == m.Community.CRAWFORD_BAY]
    for member in community[:5]:
        profile = client.get(f"/relay/v1/profiles/{member.party.public_key}").json()
        assert profile["name"]
        assert profile["mailbox_key"] != member.party.public_key
        parse_event(profile["event"])  # served with its signed event, which verifies
    for key in list(demo_keys)[:3]:
        assert client.get(f"/relay/v1/profiles/{key}").status_code == 404
    items = m.Listing.objects.filter(member_legacy_id__in=[mem.legacy_id for mem in community])
    assert done["listing"]["stored"] == items.count() > 0
    found = client.get("/relay/v1/listings", {"limit": 100}).json()["listings"]
    assert found
    assert {row["listing"] for row in found} <= {listing_id(i.legacy_id) for i in items}


def test_publishing_again_publishes_nothing_twice(snapshot: Snapshot) -> None:
    sql, _ = snapshot(*SMALL)
    run_import(DumpSource(str(sql)))
    first = publish_imported(now=int(time.time())).as_json()
    events = Event.objects.count()
    second = publish_imported(now=int(time.time()) + 5).as_json()
    assert Event.objects.count() == events
    for kind, counts in second.items():
        assert counts["stored"] == 0
        assert counts["unchanged"] == first[kind]["stored"] + first[kind]["unchanged"]


def test_a_member_who_holds_their_own_key_is_not_published_for(snapshot: Snapshot) -> None:
    sql, _ = snapshot(*SMALL)
    run_import(DumpSource(str(sql)))
    member = m.Member.objects.filter(community=m.Community.CRAWFORD_BAY).select_related("party").first()
    assert member is not None
    held = HeldKey.objects.get(party=member.party)
    held_key_destroy(held, now=timezone.now())
    done = publish_imported(now=int(time.time())).as_json()
    assert done["profile"]["skipped"] == {"member holds their own key": 1}
    assert not Event.objects.filter(author=member.party.public_key).exists()


def test_the_command_prints_a_summary_by_kind(snapshot: Snapshot) -> None:
    sql, _ = snapshot(*SMALL)
    run_import(DumpSource(str(sql)))
    out = io.StringIO()
    call_command("publish_to_relay", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert set(summary) >= {"profile", "relationship", "listing"}
    assert summary["profile"]["stored"] == m.Member.objects.filter(community=m.Community.CRAWFORD_BAY).count()

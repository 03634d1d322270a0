"""Multi-hop payments and a credit loop between members holding their own keys (a `Wallet` on a
device, talking through relay mailboxes over signed HTTP) and members the service hosts."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from nacl.public import Box, PublicKey

from foaf import bilateral as core
from foaf.ledger import mailbox, services
from foaf.ledger.models import Party, Relationship
from foaf.routing.node import Outcome
from foaf.routing.wallet import Outbound, Wallet
from relay.models import Profile
from tests.ledger.test_hosting import run_deliveries
from tests.relay.clients import ack, ciphertext_of, deposit, fetch, mailbox_secret, publish_profiles

pytestmark = pytest.mark.django_db
NOW = int(time.time())


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings: Any) -> None:
    """Each test its own rate-limit buckets: the phones here poll far more often than a person would."""
    settings.RELAY_RATE_NAMESPACE = uuid.uuid4().hex


@dataclass
class Device:
    """A member's phone: its own key, its wallet, its relay mailbox over HTTP."""

    signer: core.SeedSigner
    client: Client
    wallet: Wallet = field(init=False)
    after: int = 0

    def __post_init__(self) -> None:
        key = self.signer.public_key.hex()
        self.wallet = Wallet(self.signer, key)
        publish_profiles(self.signer, at=NOW - 100)
        Party.objects.get_or_create(party_id=key, defaults={"public_key": key, "display_name": "device"})

    @property
    def party(self) -> Party:
        return Party.objects.get(party_id=self.signer.public_key.hex())

    def send(self, out: list[Outbound]) -> None:
        for o in out:
            key = Party.objects.get(party_id=o.to).public_key
            mailbox_key = Profile.objects.get(key=key).mailbox_key
            box = Box(mailbox_secret(self.signer), PublicKey(bytes.fromhex(mailbox_key)))
            r = deposit(self.client, self.signer, key, bytes(box.encrypt(o.data)))
            assert r.status_code in (200, 201), r.content

    def poll(self, now: int) -> int:
        """Fetch, open, hand to the wallet, send what it answers, acknowledge."""
        r = fetch(self.client, self.signer, after=self.after)
        assert r.status_code == 200, r.content
        messages = r.json()["messages"]
        for m in messages:
            sender_box = Profile.objects.get(key=m["sender"]).mailbox_key
            data = Box(mailbox_secret(self.signer), PublicKey(bytes.fromhex(sender_box))).decrypt(ciphertext_of(m))
            self.send(self.wallet.receive(bytes(data), now=now))
            self.after = m["seq"]
        if messages:
            ack(self.client, self.signer, [m["id"] for m in messages])
        return len(messages)


def hosted(name: str) -> Party:
    party = services.party_create_with_held_key(display_name=name)
    mailbox.profile_publish(party, now=NOW - 100)
    return party


def relate(x: Device | Party, y: Device | Party, *, balance_x_owes: int = 0, n: int = 0, limit: int = 10_000) -> str:
    """A relationship co-signed by both keys (a device's own, or the held one), in the ledger and
    on each device that is a side of it."""
    signers, members = [], []
    for side in (x, y):
        if isinstance(side, Device):
            signers.append(side.signer)
            members.append(core.Member(side.party.party_id, side.party.public_key))
        else:
            signers.append(services.party_signer(side))
            members.append(core.Member(side.party_id, side.public_key))
    genesis = core.make_genesis(
        a=members[0], b=members[1], currency="CAD", limit_a_to_b=limit, limit_b_to_a=limit, proposer="a",
        created=NOW - 90, deadline=NOW + 600, nonce=hashlib.sha256(f"rel{n}".encode()).hexdigest()[:32],
    )  # fmt: skip
    entries = [core.LogEntry(genesis, core.sign_state(genesis, signers[0]), core.sign_state(genesis, signers[1]))]
    if balance_x_owes:
        op = core.Payment("a", balance_x_owes, "opening")
        st = core.apply_op(genesis, core.Update("a", op, NOW - 80, NOW + 600, f"{n + 1:032x}"))
        entries.append(core.LogEntry(st, core.sign_state(st, signers[0]), core.sign_state(st, signers[1])))
    for e in entries:
        services.entry_append(e)
    for side in (x, y):
        if isinstance(side, Device):
            side.wallet.parties[genesis.channel] = core.Party(side.signer, entries)
    return genesis.channel


def pump(devices: list[Device], now: int, rounds: int = 40) -> None:
    """What the worker and beat do, and the phones polling, until nothing moves."""
    for _ in range(rounds):
        moved = run_deliveries(now)
        moved += mailbox.mailboxes_collect(now=now).handed
        moved += sum(d.poll(now) for d in devices)
        if not moved:
            return
    raise AssertionError("never quiet")


def owes(channel: str, party_id: str) -> int:
    rel = Relationship.objects.get(channel_id=channel)
    return rel.balance if rel.party_a.party_id == party_id else -rel.balance


def test_a_device_pays_a_device_through_two_hosted_members(client: Client) -> None:
    d1, d2 = Device(core.SeedSigner(b"\x71" * 32), client), Device(core.SeedSigner(b"\x72" * 32), client)
    h1, h2 = hosted("h1"), hosted("h2")
    c1, c2, c3 = relate(d1, h1, n=1), relate(h1, h2, n=3), relate(h2, d2, n=5)
    invoice = d2.wallet.invoice(650, "CAD", now=NOW)
    route, out = d1.wallet.pay(invoice, [(c1, h1.party_id), (c2, h2.party_id), (c3, d2.party.party_id)], now=NOW)
    d1.send(out)
    pump([d1, d2], NOW)
    assert d1.wallet.outcome(route.route_hash) is Outcome.SETTLED
    assert [h["status"] for h in d1.wallet.progress(route.route_hash)["hops"]] == ["settled"] * 3
    assert owes(c1, d1.party.party_id) == owes(c2, h1.party_id) == owes(c3, h2.party_id) == 650
    # The devices' own logs agree with the service's, state by state.
    for device, channel in ((d1, c1), (d2, c3)):
        rel = Relationship.objects.get(channel_id=channel)
        assert device.wallet.parties[channel].head.state.hash_hex == rel.head_hash  # type: ignore[union-attr]


def test_a_hosted_member_refusing_a_device_s_route_cancels_it(client: Client) -> None:
    d1, d2 = Device(core.SeedSigner(b"\x73" * 32), client), Device(core.SeedSigner(b"\x74" * 32), client)
    h1 = hosted("h1")
    c1, c2 = relate(d1, h1, n=7), relate(h1, d2, n=9, limit=1_000)
    invoice = d2.wallet.invoice(5_000, "CAD", now=NOW)  # more than h1 may owe d2
    route, out = d1.wallet.pay(invoice, [(c1, h1.party_id), (c2, d2.party.party_id)], now=NOW)
    d1.send(out)
    pump([d1, d2], NOW)
    assert d1.wallet.outcome(route.route_hash) is Outcome.CANCELLED
    assert d1.wallet.progress(route.route_hash)["hops"][0]["reason"] == "LIMIT_EXCEEDED"
    assert owes(c1, d1.party.party_id) == 0 and d1.wallet.parties[c1].state.holds == ()  # type: ignore[union-attr]


def test_a_credit_loop_through_devices_and_a_hosted_member_cancels_debt(client: Client) -> None:
    d1, d2 = Device(core.SeedSigner(b"\x75" * 32), client), Device(core.SeedSigner(b"\x76" * 32), client)
    h1 = hosted("h1")
    # h1 owes d1 400, d2 owes h1 400, d1 owes d2 400: a loop of debt d1 -> h1 -> d2 -> d1.
    c1 = relate(h1, d1, balance_x_owes=400, n=11)
    c2 = relate(d2, h1, balance_x_owes=400, n=13)
    c3 = relate(d1, d2, balance_x_owes=400, n=15)
    route, out = d1.wallet.cancel_loop(
        300, "CAD", [(c1, h1.party_id), (c2, d2.party.party_id), (c3, d1.party.party_id)], now=NOW
    )
    d1.send(out)
    pump([d1, d2], NOW)
    assert d1.wallet.outcome(route.route_hash) is Outcome.SETTLED
    assert owes(c1, h1.party_id) == 100 and owes(c2, d2.party.party_id) == 100
    # d1 ~ d2 is the two devices' own: the service never sees it move, their logs do.
    for device in (d1, d2):
        state = device.wallet.parties[c3].state
        assert state is not None and state.balance == 100 and state.a.id == d1.party.party_id


# --- progress over the relay's WebSocket ------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_device_payer_follows_its_payment_on_its_mailbox_subscription(client: Client) -> None:
    import json

    from tests.relay.clients import Session, in_thread, run

    d1, d2 = Device(core.SeedSigner(b"\x77" * 32), client), Device(core.SeedSigner(b"\x78" * 32), client)
    h1, h2 = hosted("h1"), hosted("h2")
    c1, c2, c3 = relate(d1, h1, n=21), relate(h1, h2, n=23), relate(h2, d2, n=25)
    invoice = d2.wallet.invoice(333, "CAD", now=NOW)
    route, out = d1.wallet.pay(invoice, [(c1, h1.party_id), (c2, h2.party_id), (c3, d2.party.party_id)], now=NOW)
    seen: list[dict[str, Any]] = []

    def others() -> None:  # the worker, beat and d2's phone; d1 listens on the WebSocket
        run_deliveries(NOW)
        mailbox.mailboxes_collect(now=NOW)
        d2.poll(NOW)

    async def scenario() -> None:
        session = Session()
        await session.open()
        await session.auth(d1.signer)
        await session.subscribe("m", "mailbox", since=0)
        await in_thread(d1.send)(out)
        for _ in range(30):
            await in_thread(others)()
            while not await session.quiet(timeout=0.2):
                frame = await session.recv()
                if frame["type"] != "message":
                    continue
                m = frame["message"]
                sender_box = await in_thread(lambda k=m["sender"]: Profile.objects.get(key=k).mailbox_key)()
                box = Box(mailbox_secret(d1.signer), PublicKey(bytes.fromhex(sender_box)))
                data = bytes(box.decrypt(ciphertext_of(m)))
                seen.append(json.loads(data))
                await in_thread(d1.send)(d1.wallet.receive(data, now=NOW))
                await session.send({"type": "ack", "id": m["id"][:8], "ids": [m["id"]]})
            if (
                d1.wallet.outcome(route.route_hash) is Outcome.SETTLED
                and len([s for s in seen if s["type"] == "route_status" and s["status"] == "settled"]) == 3
            ):
                break
        await session.close()

    run(scenario())
    assert d1.wallet.outcome(route.route_hash) is Outcome.SETTLED
    reports = [(s["hop"], s["status"]) for s in seen if s["type"] == "route_status"]
    for hop in range(3):
        assert (hop, "held") in reports and (hop, "settled") in reports

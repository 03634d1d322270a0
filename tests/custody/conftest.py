"""Fixtures of the custody tests: the demo dump imported as the legacy API tests import it, members
with real Devise hashes, a cohort, and a member's phone: a real Ed25519 key of its own that talks to
the claim API over HTTP and signs what it is shown (after checking it is what it asked for)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from foaf import bilateral as core
from foaf.custody import services as custody
from foaf.custody.models import Cohort
from migration import models as m
from tests.legacy_api.conftest import (  # noqa: F401 (fixtures, the autouse legacy settings among them)
    IDA,
    IDA_PASSWORD,
    devise_hash,
    imported,
    legacy_settings,
    rsa_key,
    tokens,
)

ADMIN, OLU, MAE, RAVI, ZOE = 1, 3, 4, 5, 6
PASSWORDS = {ADMIN: "crawford-1", IDA: IDA_PASSWORD, OLU: "crawford-3", MAE: "crawford-4", ZOE: "crawford-6"}
USER_NAMES = {ADMIN: "admin", IDA: "idaquist2", OLU: "olubergstrom3", MAE: "maetremblay4", ZOE: "zoefarm6"}
CLAIMS = "/api/claim/v1/claims"
RECOVERIES = "/api/claim/v1/recoveries"


@pytest.fixture
def members(imported: dict[int, m.Member]) -> dict[int, m.Member]:  # noqa: F811
    for legacy_id, password in PASSWORDS.items():
        m.Member.objects.filter(legacy_id=legacy_id).update(encrypted_password=devise_hash(password))
    return {member.legacy_id: member for member in m.Member.objects.select_related("party")}


@pytest.fixture
def cohort(members: dict[int, m.Member]) -> Cohort:
    """Ida, Olu and Mae in an open cohort; Zoë in none."""
    c = custody.cohort_create(name="first")
    custody.cohort_add(c, [members[i].party for i in (IDA, OLU, MAE)])
    return custody.cohort_set_status(c, Cohort.Status.OPEN, now=timezone.now())


@dataclass
class Phone:
    """A member's device: its own key, and every answer the claim API gave it (for the word scan)."""

    seed: bytes
    legacy_id: int
    client: Client = field(default_factory=Client)
    answers: list[Any] = field(default_factory=list)
    claim_id: str = ""
    recovery_id: str = ""

    @property
    def signer(self) -> core.SeedSigner:
        return core.SeedSigner(self.seed)

    @property
    def key(self) -> str:
        return self.signer.public_key.hex()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        r = self.client.post(path, data=json.dumps(body), content_type="application/json")
        self.answers.append(r)
        return r

    def get(self, path: str) -> Any:
        r = self.client.get(path)
        self.answers.append(r)
        return r

    def start(self, password: str | None = None, **extra: Any) -> Any:
        body = {
            "username": USER_NAMES[self.legacy_id],
            "password": PASSWORDS[self.legacy_id] if password is None else password,
            "new_key": self.key,
            **extra,
        }
        r = self.post(CLAIMS, body)
        if r.status_code in (200, 201):
            self.claim_id = r.json()["claim_id"]
        return r

    def confirm(self, statement: dict[str, Any]) -> Any:
        """Check the statement moves this member to this phone's key, and confirm it."""
        assert statement["new_key"] == self.key
        rotation = core.KeyRotation(**statement, old_sig="", new_sig="")
        return self.post(f"{CLAIMS}/{self.claim_id}", {"new_sig": self.signer.sign(rotation.signing_message).hex()})

    def signatures(self, to_sign: list[dict[str, Any]]) -> dict[str, str]:
        """Sign each offered state after checking it is exactly a move of this member to this key."""
        out = {}
        for item in to_sign:
            state = core.State.from_json(item["state"])
            assert state.hash_hex == item["state_hash"] and state.channel == item["channel"]
            op = state.update.op
            assert isinstance(op, core.RotateKey) and op.statement.new_key == self.key
            assert state.member(state.update.proposer).key == self.key
            out[state.hash_hex] = core.sign_state(state, self.signer)
        return out

    def sign_offered(self, answer: dict[str, Any]) -> Any:
        return self.post(f"{CLAIMS}/{self.claim_id}", {"signatures": self.signatures(answer["to_sign"])})

    def claim(self) -> Any:
        """The whole claim as an app runs it: start, confirm, sign what is offered until nothing is."""
        r = self.start()
        assert r.status_code in (200, 201), r.content
        body = r.json()
        if body["statement"] is not None:
            r = self.confirm(body["statement"])
            assert r.status_code == 200, r.content
            body = r.json()
        for _ in range(5):
            if not body["to_sign"]:
                return r
            r = self.sign_offered(body)
            assert r.status_code == 200, r.content
            body = r.json()
        raise AssertionError("the claim kept offering states to sign")

    def status(self) -> Any:
        return self.get(f"{CLAIMS}/{self.claim_id}")

    def start_recovery(self, password: str | None = None) -> Any:
        """Start recovering this member's account to this phone (it lost the one that claimed)."""
        body = {
            "username": USER_NAMES[self.legacy_id],
            "password": PASSWORDS[self.legacy_id] if password is None else password,
            "new_key": self.key,
        }
        r = self.post(RECOVERIES, body)
        if r.status_code in (200, 201):
            self.recovery_id = r.json()["recovery_id"]
        return r

    def recovery_status(self) -> Any:
        return self.get(f"{RECOVERIES}/{self.recovery_id}")

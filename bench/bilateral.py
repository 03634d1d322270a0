"""Co-signed updates per second through the bilateral core, against bare PyNaCl in the same run.

One co-signed update is the whole exchange: Alice proposes a payment (apply the rules, hash, sign),
Bob receives it (parse, validate, verify, check the chain), Bob accepts (sign), Alice receives the
accept (verify, commit to the chain). The baseline does only the cryptography of that exchange on
the same bytes: two Ed25519 signatures and two verifications of the exact message signed. The
ratio is ours/baseline (target >= 0.5). Then the storage path: co-signed updates persisted on
PostgreSQL per second (``entry_append``, one transaction each), when a PostgreSQL answers at
BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; a scratch database is
created and dropped).

    .venv/bin/python bench/bilateral.py [--quick]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import nacl.bindings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from foaf import bilateral as core  # noqa: E402

T0 = 1_790_000_000
ALICE = core.SeedSigner(bytes([0x11]) * 32)
BOB = core.SeedSigner(bytes([0x22]) * 32)


def open_channel(limit: int) -> tuple[core.Party, core.Party]:
    genesis = core.make_genesis(
        a=core.Member.inception(ALICE.public_key),
        b=core.Member.inception(BOB.public_key),
        currency="CAD",
        limit_a_to_b=limit,
        limit_b_to_a=limit,
        proposer="a",
        created=T0,
        deadline=T0 + 3600,
        nonce="ab" * 16,
    )
    alice, opening = core.Party.open(ALICE, genesis, now=T0)
    bob, _ = core.Party.join(BOB, opening, now=T0)
    alice.receive(bob.accept(now=T0), now=T0)
    return alice, bob


def run_ours(updates: int) -> tuple[float, list[core.LogEntry], list[bytes]]:
    alice, bob = open_channel(limit=updates * 10)
    messages: list[bytes] = []
    started = time.perf_counter()
    for i in range(updates):
        now = T0 + 10 + i
        proposal = alice.propose(core.Payment("a", 1 + i % 7, "bench"), now=now, deadline=now + 600, nonce=f"{i:032x}")
        bob.receive(proposal, now=now)
        alice.receive(bob.accept(now=now), now=now)
    elapsed = time.perf_counter() - started
    assert alice.state is not None and bob.state is not None and alice.state == bob.state
    assert alice.state.seq == updates
    messages = [e.state.signing_message for e in alice.log[1:]]
    return elapsed, list(alice.log), messages


def run_baseline(messages: list[bytes]) -> float:
    """Two signatures and two verifications of each exactly signed message: the crypto floor."""
    ask = nacl.bindings.crypto_sign_seed_keypair(bytes([0x11]) * 32)
    bsk = nacl.bindings.crypto_sign_seed_keypair(bytes([0x22]) * 32)
    started = time.perf_counter()
    for message in messages:
        signed_a = nacl.bindings.crypto_sign(message, ask[1])
        nacl.bindings.crypto_sign_open(signed_a, ask[0])
        signed_b = nacl.bindings.crypto_sign(message, bsk[1])
        nacl.bindings.crypto_sign_open(signed_b, bsk[0])
    return time.perf_counter() - started


def run_storage(entries: list[core.LogEntry], url: str) -> dict[str, Any]:
    """Append the same co-signed log to PostgreSQL through the ledger service, one transaction each."""
    import psycopg

    admin_url = url
    scratch = f"foaf_bench_{os.getpid()}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{scratch}"')
    except psycopg.Error as exc:
        return {"storage_backend": None, "storage_note": f"no PostgreSQL at BENCH_DATABASE_URL: {exc}".strip()[:160]}
    base = admin_url.rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = f"{base}/{scratch}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "foaf.settings")
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from django.db import connections

        from foaf.ledger.services import entry_append

        entry_append(entries[0])
        started = time.perf_counter()
        for entry in entries[1:]:
            entry_append(entry)
        elapsed = time.perf_counter() - started
        connections.close_all()
        return {"storage_backend": "postgresql", "storage_per_s": round((len(entries) - 1) / elapsed, 1)}
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, about a minute at most")
    parser.add_argument("--updates", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    updates = args.updates or (2_000 if args.quick else 20_000)
    rounds = args.rounds or (3 if args.quick else 5)
    # Interleave ours and baseline so that noise from other work on the machine hits both alike;
    # keep the best round of each (the least disturbed).
    best_ours = best_base = float("inf")
    entries: list[core.LogEntry] = []
    for _ in range(rounds):
        ours, entries, messages = run_ours(updates)
        base = run_baseline(messages)
        best_ours, best_base = min(best_ours, ours), min(best_base, base)
    figures: dict[str, Any] = {
        "bench": "bilateral",
        "ratio": round(best_base / best_ours, 3),
        "ours_per_s": round(updates / best_ours, 1),
        "baseline_per_s": round(updates / best_base, 1),
        "updates": updates,
        "rounds": rounds,
    }
    storage_updates = min(len(entries), 500 if args.quick else 5_000)
    figures.update(
        run_storage(
            entries[:storage_updates],
            os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        )
    )
    figures["storage_updates"] = storage_updates - 1
    print(
        f"core: {figures['ours_per_s']}/s co-signed updates; bare PyNaCl: {figures['baseline_per_s']}/s",
        file=sys.stderr,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

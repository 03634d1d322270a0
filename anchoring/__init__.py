"""Anchoring: parties commit the hash of a bilateral state to the Radix Babylon ledger on
demand, batched into Merkle roots, with inclusion proofs anyone can check."""

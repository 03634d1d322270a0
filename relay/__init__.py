"""The relay: a public view of the credit graph (relationships and limits, never balances),
discovery and offers, encrypted mailboxes and live WebSocket subscriptions."""

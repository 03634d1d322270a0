"""Custody: who holds each member's key, the service or the member's own device.

The import gave every member a key the service holds (``foaf.ledger.models.HeldKey``). This app
moves members off it, cohort by cohort (docs/claim.md): the operator groups members into cohorts
and opens, pauses and closes them (``Cohort``); a member of an open cohort claims their account
from a device (``Claim``): the device's new key replaces the held one in every relationship by a
countersigned ``rotate_key`` update (``ClaimStep``, one per relationship), and then the held key is
destroyed. Recovery (``recovery``: a member on their own device who loses it, helped by contacts
chosen in advance, ``RecoveryPolicy``, ``RecoveryRequest``, ``RecoveryApproval``, ``RecoveryStep``;
messages to devices carried by the service's ``Courier`` mailbox) marks the member ``recovered``
here (``services.member_recovered``) so the cohort's progress counts it.

It never imports ``migration``: the legacy login that authenticates a claim lives beside the
legacy API (``migration/api/claim_views.py``) and calls these services.
"""

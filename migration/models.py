"""What the import keeps of the GrowOperative database, keyed by legacy ids.

Legacy ids are the primary keys here (``legacy_id``), so re-running the import finds what it
already wrote and imports nothing twice. Money is integer cents. The custodial secp256k1 secrets
(``foaf_private_key``, ``foaf_seed_phrase``) have no column anywhere: they are never read.
"""

from __future__ import annotations

from django.db import models

from foaf.ledger.models import Party, Relationship


class Community(models.TextChoices):
    CRAWFORD_BAY = "crawford-bay", "Crawford Bay"
    DEMO = "demo", "Demo accounts"


class ImportRun(models.Model):
    """One run of ``import_legacy``: what it read, imported and set aside, phase by phase."""

    class Status(models.TextChoices):
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=500, help_text="the legacy source, password redacted")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    summary = models.JSONField(default=dict, help_text="rows read / imported / set aside, by table")
    error = models.TextField(blank=True)


class Checkpoint(models.Model):
    """How far a streamed table has been imported: every row with id <= ``last_id`` is done.

    Written in the same transaction as the rows it covers, so a run killed at any point resumes
    exactly after the last committed batch.
    """

    table = models.CharField(max_length=64, unique=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)


class Member(models.Model):
    """A legacy user and the new identity issued for them (``party``, key held until claimed).

    The legacy user id, ``foaf_id`` and ``foaf_address`` stay as aliases of the new identity.
    """

    legacy_id = models.BigIntegerField(primary_key=True)
    party = models.OneToOneField(Party, on_delete=models.PROTECT, related_name="legacy_member")
    community = models.CharField(max_length=16, choices=Community.choices)
    foaf_id = models.CharField(max_length=36, unique=True)
    foaf_address = models.CharField(max_length=42, null=True, blank=True, unique=True)
    foaf_registered = models.BooleanField(default=False)
    user_name = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255, null=True, blank=True)
    nickname = models.CharField(max_length=255, null=True, blank=True)
    first_name = models.CharField(max_length=255, null=True, blank=True)
    last_name = models.CharField(max_length=255, null=True, blank=True)
    display_name = models.CharField(max_length=255, null=True, blank=True)
    email = models.CharField(max_length=255, null=True, blank=True)
    encrypted_password = models.CharField(max_length=255, blank=True, help_text="Devise bcrypt hash, for legacy login")
    sign_in_count = models.IntegerField(default=0)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)
    inviter_legacy_id = models.BigIntegerField(null=True, blank=True, help_text="users.parent_id: who invited them")
    depth = models.IntegerField(null=True, blank=True)
    invite_limit = models.IntegerField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user_name} (legacy {self.legacy_id})"


class Role(models.Model):
    """``user_groups``: 0 admin, 1 producer, 2 broker, 3 wholesaler, 4 retailer, 5 consumer, 6 demo, 7 superuser."""

    legacy_id = models.BigIntegerField(primary_key=True)
    member_legacy_id = models.BigIntegerField(null=True, db_index=True)
    group_label = models.IntegerField(null=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()


class Subnet(models.Model):
    legacy_id = models.BigIntegerField(primary_key=True)
    seed_user_legacy_id = models.BigIntegerField()
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()


class SubnetMembership(models.Model):
    legacy_id = models.BigIntegerField(primary_key=True)
    member_legacy_id = models.BigIntegerField(db_index=True)
    subnet_legacy_id = models.BigIntegerField()
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField()


class Contact(models.Model):
    """``relationships``: user asked, friend answered; each side's label for the other."""

    legacy_id = models.BigIntegerField(primary_key=True)
    user_legacy_id = models.BigIntegerField(null=True, db_index=True)
    friend_legacy_id = models.BigIntegerField(null=True, db_index=True)
    action_user_legacy_id = models.BigIntegerField(null=True)
    status = models.IntegerField(null=True, help_text="0 pending, 1 accepted, 2 declined, 3 blocked")
    user_label = models.CharField(max_length=255, null=True, blank=True)
    friend_label = models.CharField(max_length=255, null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()


class Trustline(models.Model):
    """A legacy trustline, its columns as Rails last had them, and where its history import stands.

    ``relationship`` is the bilateral relationship it became. The ``history_*`` fields are the
    running state of the imported history: rows chained into ``history_root`` so far, the balance
    after them (the sum of their deltas), and the last chained row.
    """

    legacy_id = models.BigIntegerField(primary_key=True)
    relationship = models.OneToOneField(
        Relationship, null=True, blank=True, on_delete=models.PROTECT, related_name="legacy_trustline"
    )
    community = models.CharField(max_length=16, choices=Community.choices)
    user_a_legacy_id = models.BigIntegerField(db_index=True)
    user_b_legacy_id = models.BigIntegerField(db_index=True)
    credit_limit_a_to_b = models.BigIntegerField(help_text="cents A may owe B")
    credit_limit_b_to_a = models.BigIntegerField(help_text="cents B may owe A")
    cached_balance = models.BigIntegerField(help_text="current_balance as Rails cached it (cents)")
    is_active = models.BooleanField()
    established_date = models.DateTimeField()
    last_activity = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    history_root = models.CharField(max_length=64, default="0" * 64)
    history_rows = models.IntegerField(default=0)
    history_balance = models.BigIntegerField(default=0, help_text="cents after the chained rows; > 0: A owes B")
    history_last_id = models.BigIntegerField(default=0)
    imported_fingerprint = models.CharField(
        max_length=64, blank=True, help_text="what the newest attested state of its relationship was made from"
    )


class HistoryRow(models.Model):
    """One ``trustline_transactions`` row, kept with its legacy id, and the change it made.

    ``delta`` is the reconstructed signed change (cents, > 0: A owes B more); NULL only while a
    row with a lost ``balance_after`` waits for the next row of its trustline to be recovered.
    """

    legacy_id = models.BigIntegerField(primary_key=True)
    # No database foreign key: PostgreSQL checks one row at a time, and that check was 60% of its
    # work writing the history (386,501 rows by binary COPY: 3.6 s with it, 1.5 s without). The
    # import writes rows only for trustlines it holds, trustlines are never deleted (migration
    # 0002 refuses it on PostgreSQL while history refers to one), and reconcile_legacy reports a
    # row whose trustline is missing.
    trustline = models.ForeignKey(
        Trustline, on_delete=models.PROTECT, related_name="history", db_index=False, db_constraint=False
    )
    amount = models.BigIntegerField(help_text="cents, as stored (always positive)")
    delta = models.BigIntegerField(null=True)
    balance_after = models.BigIntegerField(null=True, help_text="the legacy column (cents), NULL when it was lost")
    recovered = models.BooleanField(default=False, help_text="balance_after was NULL and was reconstructed")
    transaction_type = models.CharField(max_length=32)
    initiated_by_legacy_id = models.BigIntegerField()
    description = models.TextField(null=True, blank=True)
    originating_request_id = models.BigIntegerField(null=True, blank=True)
    order_id = models.BigIntegerField(null=True, blank=True)
    path_info = models.TextField(null=True, blank=True, help_text="the JSON text as stored")
    is_reversed = models.BooleanField(default=False)
    foaf_operation_id = models.BigIntegerField(null=True, blank=True)
    foaf_posted_at = models.DateTimeField(null=True, blank=True)
    foaf_direction = models.CharField(max_length=16, null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["trustline", "legacy_id"], name="history_by_trustline")]


class PendingPayment(models.Model):
    """``pending_payments``: trades awaiting the other member. Open ones (status 0 and 4) are trades
    in flight: neither lost nor applied, they wait as open proposals until a member answers."""

    class Kind(models.IntegerChoices):
        PAYMENT = 0
        REQUEST = 1

    OPEN_STATUSES = (0, 4)

    legacy_id = models.BigIntegerField(primary_key=True)
    from_legacy_id = models.BigIntegerField(null=True)
    to_legacy_id = models.BigIntegerField(null=True)
    trustline = models.ForeignKey(Trustline, null=True, on_delete=models.PROTECT, related_name="pending_payments")
    amount = models.BigIntegerField(help_text="cents")
    description = models.TextField(null=True, blank=True)
    status = models.IntegerField(
        help_text="0 pending, 1 confirmed, 2 rejected, 3 cancelled, 4 paid, awaiting confirmation"
    )
    kind = models.IntegerField(choices=Kind.choices)
    rejected_reason = models.TextField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Category(models.Model):
    legacy_id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=255, null=True, blank=True)


class Listing(models.Model):
    """``items``: what a member offers; the relay publishes these as offers."""

    legacy_id = models.BigIntegerField(primary_key=True)
    member_legacy_id = models.BigIntegerField(null=True, db_index=True)
    category_legacy_id = models.BigIntegerField(null=True)
    name = models.CharField(max_length=255, null=True, blank=True)
    quantity = models.DecimalField(max_digits=10, decimal_places=5, null=True)
    price = models.BigIntegerField(null=True, help_text="cents per unit")
    date_available = models.DateTimeField(null=True, blank=True)
    organic = models.BooleanField(default=False)
    one_time_listing = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()


class RevokedToken(models.Model):
    """``jwt_blacklist``: token ids revoked in the legacy system; the legacy API keeps refusing them."""

    legacy_id = models.BigIntegerField(primary_key=True)
    jti = models.CharField(max_length=255, db_index=True)
    exp = models.DateTimeField()


class SetAside(models.Model):
    """A legacy row the import did not bring over, with the reason an operator can read."""

    table = models.CharField(max_length=64)
    legacy_id = models.BigIntegerField()
    reason = models.CharField(max_length=64, help_text="a stable code")
    detail = models.TextField(blank=True)
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["table", "legacy_id"], name="set_aside_once")]


class SessionRevocation(models.Model):
    """A token revoked through this service (``DELETE /v1/sessions``): its ``jti``, or a random id
    for a token without one, until its ``exp`` (or a year). Beside the imported ``RevokedToken``s,
    every legacy endpoint refuses a token whose ``jti`` is here."""

    jti = models.CharField(max_length=255, unique=True)
    exp = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(auto_now_add=True)
    member_legacy_id = models.BigIntegerField(null=True, blank=True)


# --- the legacy API's writes (migration.api.ledger_writes, docs/legacy-api.md) -------------------
class LegacyWrite(models.Model):
    """One credit write a legacy ``/v1`` call asked for: the Rails ``trustline_transactions`` row's
    analogue, whose id is the receipt's ``buffer_id``.

    ``idempotency_key`` is what identified the request (the ``Idempotency-Key`` header, else the
    app's ``originating_request_id``); a request carrying one that was already served gets the
    stored write back instead of a second one. The bilateral update's nonce is derived from it.
    A multi-hop payment writes one row per hop (``hop`` 0, 1, ...), the first one naming the route.
    """

    class State(models.TextChoices):
        POSTED = "posted"
        BUFFERED = "buffered"
        REJECTED = "rejected"

    member_legacy_id = models.BigIntegerField(help_text="the caller")
    endpoint = models.CharField(max_length=64, help_text="payment, record_debt, record_receipt, ...")
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request's parameters")
    hop = models.PositiveSmallIntegerField(default=0)
    trustline = models.ForeignKey(Trustline, null=True, on_delete=models.PROTECT, related_name="legacy_writes")
    relationship = models.ForeignKey(Relationship, null=True, on_delete=models.PROTECT, related_name="legacy_writes")
    transaction_type = models.CharField(max_length=16, help_text="payment | adjustment | trustline_update")
    direction = models.CharField(max_length=8, help_text="sent | received (from the caller)")
    amount = models.BigIntegerField(help_text="cents")
    description = models.TextField(blank=True)
    op = models.JSONField(help_text="the bilateral op asked for")
    nonce = models.CharField(max_length=32)
    seq = models.BigIntegerField(null=True, blank=True)
    state_hash = models.CharField(max_length=64, blank=True, help_text="the state posted or proposed")
    route_hash = models.CharField(max_length=64, blank=True)
    write_state = models.CharField(max_length=10, choices=State.choices)
    write_error = models.JSONField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member_legacy_id", "endpoint", "idempotency_key", "hop"],
                condition=models.Q(idempotency_key__isnull=False),
                name="legacy_write_once_per_key",
            )
        ]
        indexes = [models.Index(fields=["state_hash"], name="legacy_write_by_state")]

    def __str__(self) -> str:
        return f"write {self.pk} ({self.endpoint}, {self.write_state})"


class SignatureOnBehalf(models.Model):
    """A signature the service made with the key it holds for a member, and why.

    Written whenever a legacy call is answered by signing for a member who has not claimed their
    own key: the caller's own signature on their request (``requester``), the counterparty's
    (``counterparty``: a consent the member did not give in person), a genesis countersignature.
    Read-only for the operator (admin) and listed to the member at ``GET /v1/foaf/signatures``.
    """

    class What(models.TextChoices):
        UPDATE = "update", "co-signed update"
        PROPOSAL = "proposal", "proposal (waits for the other member)"
        GENESIS = "genesis_countersignature", "countersignature of the imported genesis"
        OPEN = "open", "genesis of a new relationship"
        ROUTE = "route", "multi-hop payment (route and its holds)"
        REJECT = "reject", "signed reject of a proposal (a pending payment refused)"

    class Role(models.TextChoices):
        REQUESTER = "requester", "on the member's own request"
        COUNTERPARTY = "counterparty", "as the other member of the caller's request"

    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="signatures_on_behalf")
    member_legacy_id = models.BigIntegerField(db_index=True)
    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="signatures_on_behalf")
    seq = models.BigIntegerField()
    state_hash = models.CharField(max_length=64)
    what = models.CharField(max_length=32, choices=What.choices)
    op_type = models.CharField(max_length=32, help_text="the op signed (payment, settlement, set_limit, import, ...)")
    role = models.CharField(max_length=16, choices=Role.choices)
    requested_by_legacy_id = models.BigIntegerField(help_text="the member whose legacy call it served")
    endpoint = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=255, blank=True)
    write = models.ForeignKey(LegacyWrite, null=True, blank=True, on_delete=models.PROTECT, related_name="signatures")
    signed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["party", "state_hash"], name="signature_on_behalf_once")]
        indexes = [models.Index(fields=["member_legacy_id", "signed_at"], name="signature_by_member")]

    def __str__(self) -> str:
        return f"{self.what} for {self.member_legacy_id} at {self.relationship_id}#{self.seq}"


class PendingPaymentAction(models.Model):
    """One legacy call on a pending payment (``/v1/pending_payments*``), kept for replays and as
    the trail of what was signed: the create, a mark_paid, a confirm (``write``: the bilateral
    update it asked for), a reject (``proposal`` and ``reject``: the signed proposal and the
    signed bilateral reject of it, when the keys were held here), a cancel.

    A create with an ``Idempotency-Key`` claims the key (unique per member and action), so a
    retried create returns the pending payment it made; a confirm's attempt number makes its
    bilateral nonce (``pending_payment:<id>:<attempt>``)."""

    class Action(models.TextChoices):
        CREATE = "create"
        MARK_PAID = "mark_paid"
        CONFIRM = "confirm"
        REJECT = "reject"
        CANCEL = "cancel"

    pending_payment = models.ForeignKey(PendingPayment, on_delete=models.PROTECT, related_name="actions")
    member_legacy_id = models.BigIntegerField(help_text="the caller")
    action = models.CharField(max_length=16, choices=Action.choices)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    write = models.ForeignKey(
        LegacyWrite, null=True, blank=True, on_delete=models.PROTECT, related_name="pending_payment_actions"
    )
    proposal = models.TextField(blank=True, help_text="the signed proposal a reject refused (JSON)")
    reject = models.TextField(blank=True, help_text="the signed bilateral reject (JSON)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member_legacy_id", "action", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="pending_payment_action_once_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} of pending payment {self.pending_payment_id} by {self.member_legacy_id}"


# --- what a legacy read may reuse (migration.api.freshness, docs/legacy-api.md "Caching") --------
class ViewChange(models.Model):
    """A change to what the legacy API shows a member, written by database triggers (migration
    0006), never by code: a trustline, its relationship, a contact, a member's names or status,
    or a revoked token changed. ``member_legacy_id`` 0 stands for everyone (the imported
    ``jwt_blacklist``, a revocation without a member).

    For each member the sum of ``weight`` counts every change ever committed and only grows, in
    commit order; ``compact_view_changes`` folds a member's rows into one carrying their sum, so
    the table stays small and the sum is kept. A cached answer is reused only while the sums it
    was made under are still the database's.
    """

    member_legacy_id = models.BigIntegerField(db_index=True)
    weight = models.BigIntegerField(default=1)


# --- the shadow period and the cut-over (migration.cutover, docs/cutover.md) ---------------------
class CutoverState(models.Model):
    """Who writes credit, in one row (pk 1) the operator moves with ``manage.py cutover`` only.

    ``standalone`` (no row yet): this service answers every credit call it serves, as before the
    shadow period existed. ``shadow``: Rails writes credit (this service forwards credit writes to
    ``LEGACY_UPSTREAM_URL``) and credit reads are answered here and compared with Rails'.
    ``frozen``: nobody writes credit (writes are refused 503), reads still compared. ``switched``:
    this service writes credit and Rails' credit endpoints are no longer reached.
    """

    class Phase(models.TextChoices):
        STANDALONE = "standalone"
        SHADOW = "shadow"
        FROZEN = "frozen"
        SWITCHED = "switched"

    phase = models.CharField(max_length=12, choices=Phase.choices, default=Phase.STANDALONE)
    changed_at = models.DateTimeField(null=True, blank=True)
    frozen_at = models.DateTimeField(null=True, blank=True, help_text="the last freeze")
    switched_at = models.DateTimeField(null=True, blank=True, help_text="the last switch (none after a rollback)")
    exported_at = models.DateTimeField(null=True, blank=True, help_text="the last complete export_to_legacy")


class CutoverEvent(models.Model):
    """One phase change, for the operator's record (admin, read-only)."""

    at = models.DateTimeField(auto_now_add=True)
    from_phase = models.CharField(max_length=12)
    to_phase = models.CharField(max_length=12)
    note = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)


class ShadowDiff(models.Model):
    """A credit read answered here whose Rails answer differed (or did not come), during the shadow
    period. The member got this service's answer; Rails was asked the same request afterwards.

    Never the bearer token, a password or any request header; the request body is not kept.
    ``field`` is the first unexpected difference as a JSON path (``status`` for the status line,
    ``$`` for bodies that are not both JSON); ``differences`` lists the first ones found, each with
    the rule that made it expected, if one did.
    """

    class Kind(models.TextChoices):
        MISMATCH = "mismatch", "differs (unexpected)"
        EXPECTED = "expected", "differs by design"
        TIMEOUT = "timeout", "Rails did not answer in time"
        ERROR = "error", "Rails could not be asked or its answer could not be read"

    recorded_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    method = models.CharField(max_length=8)
    route = models.CharField(max_length=64, help_text="the legacy route's name (the path's template)")
    path = models.CharField(max_length=500, help_text="path and query string (secrets in the query redacted)")
    member_legacy_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    field = models.CharField(max_length=500, blank=True, help_text="the first unexpected difference (a JSON path)")
    differences = models.JSONField(default=list, blank=True)
    ours_status = models.PositiveSmallIntegerField()
    ours_body = models.TextField(blank=True)
    rails_status = models.PositiveSmallIntegerField(null=True, blank=True)
    rails_body = models.TextField(blank=True)
    detail = models.TextField(blank=True, help_text="why expected, or what went wrong asking Rails")
    rails_ms = models.PositiveIntegerField(null=True, blank=True, help_text="how long Rails took")

    class Meta:
        indexes = [models.Index(fields=["kind", "route"], name="shadow_diff_by_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.method} {self.path}"

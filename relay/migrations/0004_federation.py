"""Federation: how far each peer's public log has been pulled, and events set aside to retry (docs/relay.md §12)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0003_mailbox"),
    ]

    operations = [
        migrations.CreateModel(
            name="PeerCursor",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "peer",
                    models.CharField(
                        help_text="the peer's base URL, as normalize_peer gives it", max_length=300, unique=True
                    ),
                ),
                (
                    "cursor",
                    models.BigIntegerField(default=0, help_text="the peer's cursor: its log is handled up to here"),
                ),
                (
                    "busy_until",
                    models.DateTimeField(blank=True, help_text="a run holds this peer until then", null=True),
                ),
                ("last_attempt_at", models.DateTimeField(blank=True, null=True)),
                (
                    "last_success_at",
                    models.DateTimeField(blank=True, help_text="the last run that pulled to the end", null=True),
                ),
                ("last_error_at", models.DateTimeField(blank=True, null=True)),
                (
                    "last_error",
                    models.TextField(
                        blank=True, help_text="why the last failed run stopped, or the last event refused"
                    ),
                ),
                ("failures", models.IntegerField(default=0, help_text="runs that failed since the last success")),
                ("stored", models.BigIntegerField(default=0, help_text="events from this peer stored here")),
                (
                    "seen",
                    models.BigIntegerField(
                        default=0, help_text="events already held here, or superseded by a newer one"
                    ),
                ),
                (
                    "rejected",
                    models.BigIntegerField(
                        default=0, help_text="events refused for good: forged, malformed, or given up"
                    ),
                ),
                (
                    "deferred",
                    models.BigIntegerField(
                        default=0, help_text="events set aside to retry (unknown relationship, future)"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("cursor__gte", 0)), name="relay_peer_cursor_not_negative"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="PeerDeferredEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "peer_cursor",
                    models.BigIntegerField(help_text="its cursor in the peer's log: retries go in this order"),
                ),
                ("event_id", models.CharField(max_length=64)),
                ("envelope", models.TextField(help_text="the signed envelope's canonical JSON, as verified")),
                ("code", models.CharField(help_text="why it was refused at the last try", max_length=32)),
                ("deferred_at", models.DateTimeField()),
                ("attempts", models.IntegerField(default=1)),
                (
                    "peer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deferred_events",
                        to="relay.peercursor",
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("peer", "event_id"), name="relay_peer_deferred_once")],
            },
        ),
    ]

"""Mailboxes: per-recipient heads, encrypted messages (ciphertext only) and signed-request nonces (docs/relay.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0002_append_only_events"),
    ]

    operations = [
        migrations.CreateModel(
            name="MailboxHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "recipient",
                    models.CharField(help_text="the recipient's Ed25519 key (hex)", max_length=64, unique=True),
                ),
                ("last_seq", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="AuthNonce",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=64)),
                ("nonce", models.CharField(max_length=32)),
                ("expires", models.BigIntegerField(db_index=True, help_text="unix seconds; purged after")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("key", "nonce"), name="relay_auth_nonce_once")],
            },
        ),
        migrations.CreateModel(
            name="MailboxMessage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("recipient", models.CharField(help_text="the recipient's Ed25519 key (hex)", max_length=64)),
                ("seq", models.BigIntegerField(help_text="place in the recipient's mailbox: 1, 2, 3 ... without gaps")),
                ("message_id", models.CharField(help_text="hex SHA-256 of the ciphertext", max_length=64)),
                (
                    "sender",
                    models.CharField(help_text="the depositor's Ed25519 key (hex), authenticated", max_length=64),
                ),
                ("ciphertext", models.BinaryField(help_text="opaque to the relay; null once acknowledged", null=True)),
                ("size", models.PositiveIntegerField(help_text="bytes of ciphertext")),
                ("deposited", models.BigIntegerField(help_text="unix seconds, the relay's clock")),
                ("expires", models.BigIntegerField(db_index=True, help_text="unix seconds; purged after")),
                (
                    "acked_at",
                    models.BigIntegerField(blank=True, help_text="unix seconds; set when acknowledged", null=True),
                ),
                ("auth_timestamp", models.BigIntegerField(help_text="of the sender's signed deposit request")),
                (
                    "auth_nonce",
                    models.CharField(help_text="of the sender's signed deposit request (hex)", max_length=32),
                ),
                (
                    "auth_sig",
                    models.CharField(help_text="the sender's signature of the deposit request (hex)", max_length=128),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("recipient", "seq"), name="relay_mailbox_seq_once"),
                    models.UniqueConstraint(fields=("recipient", "message_id"), name="relay_mailbox_message_once"),
                    models.CheckConstraint(condition=models.Q(("seq__gte", 1)), name="relay_mailbox_seq_positive"),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("acked_at__isnull", True), ("ciphertext__isnull", False)),
                            models.Q(("acked_at__isnull", False), ("ciphertext__isnull", True)),
                            _connector="OR",
                        ),
                        name="relay_mailbox_acked_has_no_ciphertext",
                    ),
                ],
            },
        ),
    ]

"""Capacity hints: one register per direction of an edge, the bucket exponent only (docs/relay.md §4.7)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0004_federation"),
    ]

    operations = [
        migrations.CreateModel(
            name="CapacityHint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("direction", models.CharField(choices=[("a_to_b", "a pays b"), ("b_to_a", "b pays a")], max_length=6)),
                ("exponent", models.PositiveSmallIntegerField(help_text="below 2**exponent: a bucket, not an amount")),
                ("expires", models.BigIntegerField(db_index=True, help_text="unix seconds, as signed; ignored after")),
                ("version", models.BigIntegerField()),
                (
                    "edge",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="hints", to="relay.edge"
                    ),
                ),
                (
                    "event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="relay.event",
                        to_field="event_id",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("edge", "direction"), name="relay_hint_once_per_direction"),
                    models.CheckConstraint(
                        condition=models.Q(("direction__in", ("a_to_b", "b_to_a"))), name="relay_hint_direction"
                    ),
                    models.CheckConstraint(condition=models.Q(("exponent__lte", 64)), name="relay_hint_exponent"),
                ],
            },
        ),
    ]

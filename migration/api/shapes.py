"""The legacy JSON shapes of members (API.md "Shared shapes"): USER, IDENTITY, the app profile.

Times: Rails-rendered columns in UTC with milliseconds (``2026-03-04T18:22:11.000Z``); IDENTITY's
with ``.iso8601`` (no milliseconds). Columns the GrowOperative schema the import reads does not
have (``tokens``, ``offering``, ``avatar_url``, ``location_opted_in``, ``discovery_radius_km``,
``about``, ``area_label``) are rendered as Rails renders a user without them: null (and
``location_opted_in`` false).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from migration import models as m

# user_groups.group_label, a Rails enum: rendered by name.
GROUP_LABELS = {
    0: "admin",
    1: "producer",
    2: "broker",
    3: "wholesaler",
    4: "retailer",
    5: "consumer",
    6: "demo",
    7: "superuser",
}


def rails_time(value: dt.datetime | None) -> str | None:
    """A Rails-rendered column: UTC with milliseconds."""
    if value is None:
        return None
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def iso8601(value: dt.datetime | None) -> str | None:
    """Ruby's ``Time#iso8601`` of a UTC time: no fraction, ``Z``."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def group_label(value: int | None) -> str | None:
    return None if value is None else GROUP_LABELS.get(value, str(value))


def roles_of(member: m.Member) -> list[m.Role]:
    return list(m.Role.objects.filter(member_legacy_id=member.legacy_id).order_by("legacy_id"))


def subnet_memberships(member: m.Member) -> list[dict[str, Any]]:
    rows = list(m.SubnetMembership.objects.filter(member_legacy_id=member.legacy_id).order_by("legacy_id"))
    names = dict(
        m.Subnet.objects.filter(legacy_id__in={r.subnet_legacy_id for r in rows}).values_list("legacy_id", "name")
    )
    return [
        {
            "id": row.legacy_id,
            "subnet_id": row.subnet_legacy_id,
            "subnet_name": names.get(row.subnet_legacy_id),
            "is_primary": row.is_primary,
        }
        for row in rows
    ]


def user_payload(member: m.Member) -> dict[str, Any]:
    """USER: the JSON:API user document of Rails' UserSerializer."""
    return {
        "data": {
            "id": str(member.legacy_id),
            "type": "user",
            "attributes": {
                "id": member.legacy_id,
                "user_name": member.user_name,
                "name": member.name,
                "nickname": member.nickname,
                "tokens": None,
                "created_at": rails_time(member.created_at),
                "invite_limit": member.invite_limit,
                "location_opted_in": False,
                "discovery_radius_km": None,
                "offering": None,
                "user_types": [
                    {
                        "id": role.legacy_id,
                        "user_id": member.legacy_id,
                        "group_label": group_label(role.group_label),
                        "created_at": rails_time(role.created_at),
                        "updated_at": rails_time(role.updated_at),
                    }
                    for role in roles_of(member)
                ],
                "avatar_url": None,
                "subnet_memberships": subnet_memberships(member),
            },
            "relationships": {},
        }
    }


def identity_payload(member: m.Member) -> dict[str, Any]:
    """IDENTITY (local): who the member is, without the app profile."""
    return {
        "foaf_id": member.foaf_id,
        "user_name": member.user_name,
        "display_name": member.display_name,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "email": member.email,
        "email_verified_at": None,
        "pending_email": None,
        "avatar_url": None,
        "about": None,
        "area_label": None,
        "foaf_address": member.foaf_address,
        "created_at": iso8601(member.created_at),
        "updated_at": iso8601(member.updated_at),
    }


def app_role(labels: list[str | None]) -> str:
    """The first group that is not demo; ``broker`` for admin and superuser; ``consumer`` if none."""
    rest = [label for label in labels if label != "demo"]
    primary = rest[0] if rest and rest[0] is not None else "consumer"
    return "broker" if primary in ("admin", "superuser") else primary


def profile_payload(member: m.Member) -> dict[str, Any]:
    """``GET /v1/profile``: the app's profile of the caller."""
    roles = roles_of(member)
    labels = [group_label(role.group_label) for role in roles]
    return {
        "id": member.legacy_id,
        "foaf_id": member.foaf_id,
        "role": app_role(labels),
        "offering": None,
        "invitation_limit": member.invite_limit,
        "invite_limit": member.invite_limit,
        "is_demo": "demo" in labels,
        "is_admin": "admin" in labels or "superuser" in labels,
        "is_superuser": "superuser" in labels,
        "user_types": [{"id": role.legacy_id, "group_label": label} for role, label in zip(roles, labels, strict=True)],
        "subnet_memberships": subnet_memberships(member),
        "app_preferences": {},
    }


def handle_payload(member: m.Member) -> dict[str, Any]:
    """``GET /v1/users/by_handle/:handle``: these four fields only."""
    return {
        "foaf_id": member.foaf_id,
        "user_name": member.user_name,
        "display_name": member.display_name,
        "avatar_url": None,
    }

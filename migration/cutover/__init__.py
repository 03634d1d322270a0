"""The shadow period and the cut-over from Rails (docs/cutover.md).

- ``phase``: who writes credit (``CutoverState``), the allowed moves between phases, and each
  process's short-lived copy of the phase.
- ``upstream``: requests to Rails at ``LEGACY_UPSTREAM_URL``, bodies streamed both ways.
- ``compare``: plain-Python comparison of two JSON answers, with the differences expected by design.
- ``shadow``: credit reads asked of Rails too, after the member's answer, and the differences recorded.
- ``middleware``: where the phase decides what a ``/v1`` credit call does.
- ``export``: a rollback's export of the credit written here back into the legacy MySQL.
"""

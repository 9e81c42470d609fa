"""The case lifecycle (Flow B): intake, review, tiers, handling, supervision, extension, closing.

One small module per concept; each service owns its transaction and changes state only
through :mod:`caseflow.services.transition`.
"""

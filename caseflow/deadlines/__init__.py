"""Deadlines: armed in the transition's transaction, scheduled on RQ after commit, swept."""

"""Tests of access control (accounts, tokens, policy, limits)."""

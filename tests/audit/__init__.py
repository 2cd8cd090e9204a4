"""Tests of the audit trail (records, hash chain, verification)."""

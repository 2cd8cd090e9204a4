"""Audit trail: every request recorded, hash-chained and append-only (guideline 都市OS③-3)."""

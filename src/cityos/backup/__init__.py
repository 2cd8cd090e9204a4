"""Backup and verified restore of a whole platform (issue 25; checklist ③-2, ④-2)."""

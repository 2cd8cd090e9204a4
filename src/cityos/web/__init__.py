"""Pages: the resident app (/app) and the staff console (/console), server-rendered."""

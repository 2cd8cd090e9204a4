"""The security self-check against the MIC smart-city security guideline v2.0 (issue 25)."""

"""Trust: organisation seal certificates, seals, RFC 3161 time-stamps and the RFC 9162
transparency log with signed tree heads (eシール, 認定タイムスタンプ)."""

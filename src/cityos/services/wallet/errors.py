"""Why a wallet request is refused: each error carries its HTTP status and a message in
Japanese and English, so that the API renders it as ProblemDetails in one place."""

from __future__ import annotations


class WalletError(Exception):
    """A refused wallet request; `code` names it for clients, `status` is the HTTP status."""

    code = "WalletError"
    status = 400

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(f"{ja} / {en}")
        self.ja, self.en = ja, en


class BadAmount(WalletError):
    code = "BadAmount"
    status = 400


class UnknownAccount(WalletError):
    code = "UnknownAccount"
    status = 404


class UnknownTransaction(WalletError):
    code = "UnknownTransaction"
    status = 404


class InsufficientFunds(WalletError):
    code = "InsufficientFunds"
    status = 409


class IdempotencyConflict(WalletError):
    """The same idempotency key was used before with a different request."""

    code = "IdempotencyKeyReused"
    status = 409


class InvalidState(WalletError):
    """A pending payment that was already posted or voided, a day already closed …"""

    code = "InvalidState"
    status = 409

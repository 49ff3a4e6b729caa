"""Conductor's key/secret → token flow (``POST /api/token``, then ``X-Authorization: <token>``)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

__all__ = ["Auth"]


@dataclass
class Auth:
    """One application key and secret; tokens it issued are valid until the server stops."""

    key_id: str
    key_secret: str
    tokens: set[str] = field(default_factory=set)

    def issue(self, key_id: str, key_secret: str) -> str | None:
        """A new token for the right key and secret, else None."""
        if hmac.compare_digest(key_id, self.key_id) and hmac.compare_digest(key_secret, self.key_secret):
            token = secrets.token_urlsafe(32)
            self.tokens.add(token)
            return token
        return None

    def valid(self, token: str | None) -> bool:
        """True for a token this server issued."""
        return bool(token) and token in self.tokens

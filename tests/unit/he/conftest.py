"""Shared keys for the HE unit tests: 1024-bit keys via the explicit test-only flag, for speed."""

from __future__ import annotations

import pytest

from accord.crypto.random import Rng
from accord.he import Paillier


@pytest.fixture(scope="session")
def he() -> Paillier:
    """The key owner's engine (deterministic key, so failures reproduce)."""
    return Paillier.generate(1024, allow_insecure_key_size=True, rng=Rng(seed=b"he-unit-tests"), party="bank")


@pytest.fixture(scope="session")
def partner(he: Paillier) -> Paillier:
    """A partner's engine: the same public key, no private key."""
    return Paillier(he.public_key, rng=Rng(seed=b"he-partner"), party="partner")

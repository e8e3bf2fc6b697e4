"""SecureBoost's parameters: the encryption scheme choice."""

from __future__ import annotations

import pytest

from accord.errors import ConfigurationError
from accord.ml.secureboost import params_from


def test_secureboost_encryption_is_ou_or_paillier_and_every_party_must_agree():
    assert params_from({}).he == "ou" and params_from({"he": "paillier"}).he == "paillier"
    assert params_from({"he": "paillier"}).public() != params_from({}).public()  # compared at the start of training
    with pytest.raises(ConfigurationError, match="he must be one of ou, paillier, got 'rsa'"):
        params_from({"he": "rsa"})

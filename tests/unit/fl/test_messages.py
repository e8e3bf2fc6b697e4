"""Every FL and SecAgg+ message refuses malformed input with an error naming the sender and the stage."""

from __future__ import annotations

import numpy as np
import pytest

from accord.errors import MalformedMessage
from accord.fl.messages import EvaluateRes, FitRes, Instruction
from accord.fl.secagg.messages import EncryptedShares, MaskedInput, PublicKeys, UnmaskIns, UnmaskShares


def good_fit(**override):
    body = {"delta": [np.zeros((2, 3), np.float32)], "num_examples": 5, "metrics": {}}
    return {**body, **override}


@pytest.mark.parametrize(("body", "why"), [
    (good_fit(delta=[np.zeros((3, 2), np.float32)]), "shape"),
    (good_fit(delta=[np.zeros((2, 3), np.int64)]), "dtype"),
    (good_fit(delta=[np.full((2, 3), np.nan, np.float32)]), "NaN or infinity"),
    (good_fit(delta=[np.full((2, 3), np.inf, np.float32)]), "NaN or infinity"),
    (good_fit(delta=[np.full((2, 3), 9.0, np.float32)]), "clipping range"),
    (good_fit(delta=[]), "holds 0 arrays"),
    (good_fit(num_examples=0), "num_examples"),
    (good_fit(num_examples=True), "num_examples"),
    (good_fit(metrics={"acc": "high"}), "metric"),
    ({"delta": [np.zeros((2, 3), np.float32)]}, "missing"),
    ([1, 2], "expected a map"),
])
def test_fit_results_are_validated(body, why):
    with pytest.raises(MalformedMessage, match=why) as info:
        FitRes.from_wire(body, "bank-7", [(2, 3)], clip=8.0)
    assert info.value.party == "bank-7" and info.value.step == "fit"
    assert "'bank-7'" in str(info.value) and "'fit'" in str(info.value)


def test_evaluate_and_instruction_checks():
    with pytest.raises(MalformedMessage, match="loss"):
        EvaluateRes.from_wire({"loss": float("nan"), "num_examples": 1, "metrics": {}}, "c", )
    with pytest.raises(MalformedMessage, match="round"):
        Instruction.from_wire({"run": "r", "round": -1, "stage": "fit", "id": 1, "body": {}}, "aggregator")


def test_secagg_messages_are_validated():
    with pytest.raises(MalformedMessage, match="32 bytes") as info:
        PublicKeys.from_wire({"c": b"x" * 31, "s": b"y" * 32}, "c1")
    assert info.value.step == "secagg.setup"
    with pytest.raises(MalformedMessage, match="must differ"):
        PublicKeys.from_wire({"c": b"x" * 32, "s": b"x" * 32}, "c1")
    with pytest.raises(MalformedMessage, match="exactly its 2 neighbours"):
        EncryptedShares.from_wire({"ciphertexts": {"a": b"x" * 88}}, "c1", ["a", "b"])
    with pytest.raises(MalformedMessage, match="shape"):
        MaskedInput.from_wire({"vector": np.zeros(5, np.uint32)}, "c1", dim=10, bits=32)
    with pytest.raises(MalformedMessage, match="dtype"):
        MaskedInput.from_wire({"vector": np.zeros(11, np.uint64)}, "c1", dim=10, bits=32)
    asked = UnmaskIns(["a"], ["b"])
    with pytest.raises(MalformedMessage, match="not asked"):
        UnmaskShares.from_wire({"seed_shares": {"b": np.zeros(9, np.int64)}, "key_shares": {}}, "c1", asked)
    with pytest.raises(MalformedMessage, match="outside the field"):
        UnmaskShares.from_wire({"seed_shares": {"a": np.full(9, 2**31, np.int64)}, "key_shares": {}}, "c1", asked)
    with pytest.raises(MalformedMessage, match="both survive and drop"):
        UnmaskIns.from_wire({"survivors": ["a"], "dropped": ["a"]}, "aggregator")

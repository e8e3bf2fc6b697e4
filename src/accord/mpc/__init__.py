"""Secure multiparty computation on secret-shared fixed-point, integer and boolean arrays.

``cluster.mpc(["bank", "partner"], dealer="carol")`` (two parties and a non-colluding dealer),
``cluster.mpc(["bank", "partner"], mode="ot")`` (two parties, no third party) or
``cluster.mpc(["a", "b", "c"])`` (three parties, honest majority) returns an :class:`MPC` session;
see :mod:`accord.mpc.session` and docs/mpc.md.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.mpc.functions import amax, amin, argmax, argmin, maximum, minimum, where
    from accord.mpc.session import MPC, SecretArray
    from accord.mpc.tensor import Shared, absolute, concatenate, equal, sign_bits

__all__ = ["MPC", "SecretArray", "Shared", "absolute", "amax", "amin", "argmax", "argmin", "concatenate", "equal",
           "maximum", "minimum", "sign_bits", "where"]
__getattr__, __dir__ = exports(__name__, {
    "accord.mpc.functions": ["amax", "amin", "argmax", "argmin", "maximum", "minimum", "where"],
    "accord.mpc.session": ["MPC", "SecretArray"],
    "accord.mpc.tensor": ["Shared", "absolute", "concatenate", "equal", "sign_bits"],
})

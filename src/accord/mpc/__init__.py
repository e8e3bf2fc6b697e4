"""Secure multiparty computation on secret-shared fixed-point, integer and boolean arrays.

``cluster.mpc(["bank", "partner"], dealer="carol")`` (two parties and a non-colluding dealer),
``cluster.mpc(["bank", "partner"], mode="ot")`` (two parties, no third party) or
``cluster.mpc(["a", "b", "c"])`` (three parties, honest majority) returns an :class:`MPC` session;
see :mod:`accord.mpc.session` and docs/mpc.md.
"""

from accord.mpc.functions import absolute, amax, amin, argmax, argmin, equal, maximum, minimum, sign_bits, where
from accord.mpc.session import MPC, SecretArray
from accord.mpc.tensor import Shared, concatenate

__all__ = ["MPC", "SecretArray", "Shared", "absolute", "amax", "amin", "argmax", "argmin", "concatenate", "equal",
           "maximum", "minimum", "sign_bits", "where"]

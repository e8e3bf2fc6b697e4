"""Homomorphic encryption: Paillier and Okamoto-Uchiyama arrays (packing, fast randomness) and CKKS through TenSEAL.

>>> import numpy as np
>>> from accord.he import Paillier
>>> he = Paillier.generate(1024, allow_insecure_key_size=True)   # 2048 bits (the default) outside tests
>>> labels = he.encrypt(np.array([1, 0, 1, 1]))
>>> sums = labels.bucket_sum(np.array([0, 1, 0, 1]), n_groups=2)
>>> he.decrypt(sums).tolist()
[2, 1]

See :mod:`accord.he.paillier` and :mod:`accord.he.ou` for the schemes and their assumptions (``OU`` is
a drop-in for ``Paillier``: faster, under factoring ``n = p² q`` and the p-subgroup assumption instead
of decisional composite residuosity), :mod:`accord.he.packing` for
packing, :mod:`accord.devices.he` for the driver-level API (``cluster.he(key_owner=...)``) and
:mod:`accord.he.ckks` for approximate arithmetic on reals.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.he.cipher_array import CipherArray, PackedCipherArray
    from accord.he.ckks import CKKS, CKKSArray, CKKSParameters
    from accord.he.encoding import FixedPoint
    from accord.he.engine import OU, HEEngine, Paillier
    from accord.he.ou import OUPrivateKey, OUPublicKey, generate_ou_keypair
    from accord.he.packing import SlotPacking
    from accord.he.paillier import PaillierPrivateKey, PaillierPublicKey, generate_paillier_keypair
    from accord.he.workers import WorkerPool

__all__ = [
    "CKKS",
    "OU",
    "CKKSArray",
    "CKKSParameters",
    "CipherArray",
    "FixedPoint",
    "HEEngine",
    "OUPrivateKey",
    "OUPublicKey",
    "PackedCipherArray",
    "Paillier",
    "PaillierPrivateKey",
    "PaillierPublicKey",
    "SlotPacking",
    "WorkerPool",
    "generate_ou_keypair",
    "generate_paillier_keypair",
]
__getattr__, __dir__ = exports(__name__, {
    "accord.he.cipher_array": ["CipherArray", "PackedCipherArray"],
    "accord.he.ckks": ["CKKS", "CKKSArray", "CKKSParameters"],
    "accord.he.encoding": ["FixedPoint"],
    "accord.he.engine": ["OU", "HEEngine", "Paillier"],
    "accord.he.ou": ["OUPrivateKey", "OUPublicKey", "generate_ou_keypair"],
    "accord.he.packing": ["SlotPacking"],
    "accord.he.paillier": ["PaillierPrivateKey", "PaillierPublicKey", "generate_paillier_keypair"],
    "accord.he.workers": ["WorkerPool"],
})

"""Driver-level devices over the cryptographic schemes: ``cluster.he(key_owner=...)``.

:mod:`accord.devices.he` lets one party own a Paillier key while others compute on its
ciphertexts. The schemes themselves (:mod:`accord.he`) have no I/O and sit low in the layer order;
a device declares protocols and runs them through the runtime, so it sits at the protocol layer
beside :mod:`accord.mpc` and :mod:`accord.psi` (docs/architecture.md).
"""

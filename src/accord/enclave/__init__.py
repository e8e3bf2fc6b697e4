"""Trusted-execution services above the runtime: key brokers at data owners and the enclave job runner.

The documented entry points of accord's TEE support; the primitives live in :mod:`accord.tee`.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.enclave.broker import KeyBroker
    from accord.enclave.job import TeeJob, load_tee_job
    from accord.enclave.runner import EnclaveRunner, open_results

__all__ = ["EnclaveRunner", "KeyBroker", "TeeJob", "load_tee_job", "open_results"]
__getattr__, __dir__ = exports(__name__, {
    "accord.enclave.broker": ["KeyBroker"],
    "accord.enclave.job": ["TeeJob", "load_tee_job"],
    "accord.enclave.runner": ["EnclaveRunner", "open_results"],
})

"""Trusted-execution services above the runtime: key brokers at data owners and the enclave job runner.

The documented entry points of accord's TEE support; the primitives live in :mod:`accord.tee`.
"""

from accord.enclave.broker import KeyBroker
from accord.enclave.job import TeeJob, load_tee_job
from accord.enclave.runner import EnclaveRunner, open_results

__all__ = ["EnclaveRunner", "KeyBroker", "TeeJob", "load_tee_job", "open_results"]

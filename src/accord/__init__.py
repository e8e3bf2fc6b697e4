"""accord: compute together on data that never leaves its owner in plaintext.

>>> import accord
>>> with accord.Cluster.simulate(["bank", "partner"]) as cluster:
...     bank, partner = cluster.parties("bank", "partner")
...     print(bank, partner)
<Party 'bank' (local)> <Party 'partner' (local)>

Importing ``accord`` (or a light module such as ``accord.errors``) loads nothing else and changes
nothing in the process: names and subpackages are imported on first use (:mod:`accord._lazy`), and
the malloc settings of :mod:`accord.runtime.allocator` are applied only where accord owns the
process or starts a cluster.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord import ml, pir, psi
    from accord.runtime.cluster import Cluster, Party, PartyObject, PartyTable
    from accord.runtime.context import Context
    from accord.runtime.report import JobReport, protocol

__version__ = "0.1.0"
__all__ = ["Cluster", "Context", "JobReport", "Party", "PartyObject", "PartyTable", "__version__", "ml", "pir",
           "protocol", "psi"]
__getattr__, __dir__ = exports(__name__, {
    "accord.runtime.cluster": ["Cluster", "Party", "PartyObject", "PartyTable"],
    "accord.runtime.context": ["Context"],
    "accord.runtime.report": ["JobReport", "protocol"],
    # Subpackages below this facade (docs/architecture.md) are attributes too: `accord.he.Paillier`.
    **{f"accord.{sub}": [sub] for sub in ("correlations", "crypto", "data", "devices", "dp", "enclave", "errors", "fl",
                                           "governance", "he", "math", "ml", "mpc", "net", "pir", "psi", "runtime",
                                           "sql", "tee")},
})

"""accord: compute together on data that never leaves its owner in plaintext.

>>> import accord
>>> with accord.Cluster.simulate(["bank", "partner"]) as cluster:
...     bank, partner = cluster.parties("bank", "partner")
...     print(bank, partner)
<Party 'bank' (local)> <Party 'partner' (local)>
"""

from accord.runtime import allocator

# Before pandas/pyarrow start threads of their own: see accord.runtime.allocator for what and why.
allocator.tune()

from accord import ml, psi  # noqa: E402
from accord.runtime import Cluster, Context, JobReport, Party, PartyObject, PartyTable, protocol  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Cluster", "Context", "JobReport", "Party", "PartyObject", "PartyTable", "__version__", "ml", "protocol",
           "psi"]

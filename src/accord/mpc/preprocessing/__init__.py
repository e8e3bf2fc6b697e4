"""Sources of correlated randomness for two-party additive sharing, all behind one interface.

* :class:`TrustedDealerProvider`: a non-colluding third party deals (production, cheap).
* :class:`OTProvider`: the two parties generate correlations themselves with oblivious transfer
  (no third party; slower).
* :class:`InsecureSelfDealerProvider`: one computing party deals; for tests only.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.mpc.preprocessing.base import CorrelationProvider, Roles
    from accord.mpc.preprocessing.dealer_provider import (
        InsecureSelfDealerProvider,
        SeededProvider,
        TrustedDealerProvider,
    )
    from accord.mpc.preprocessing.ot_provider import OTProvider

__all__ = ["CorrelationProvider", "InsecureSelfDealerProvider", "OTProvider", "Roles", "SeededProvider",
           "TrustedDealerProvider"]
__getattr__, __dir__ = exports(__name__, {
    "accord.mpc.preprocessing.base": ["CorrelationProvider", "Roles"],
    "accord.mpc.preprocessing.dealer_provider": ["InsecureSelfDealerProvider", "SeededProvider",
                                                 "TrustedDealerProvider"],
    "accord.mpc.preprocessing.ot_provider": ["OTProvider"],
})

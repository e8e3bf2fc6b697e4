"""Vertical machine learning: models on data split by columns between parties, and their metrics.

See :mod:`accord.ml.models` for the driver API, :mod:`accord.ml.secureboost` for the protocol, and
:mod:`accord.ml.binning` / :mod:`accord.ml.metrics` for the local pieces.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.ml import metrics
    from accord.ml.binning import describe
    from accord.ml.logistic import LogisticRegression
    from accord.ml.models import SecureBoost, WOEBinning

__all__ = ["LogisticRegression", "SecureBoost", "WOEBinning", "describe", "metrics"]
__getattr__, __dir__ = exports(__name__, {
    "accord.ml.metrics": ["metrics"],
    "accord.ml.binning": ["describe"],
    "accord.ml.logistic": ["LogisticRegression"],
    "accord.ml.models": ["SecureBoost", "WOEBinning"],
})

"""Plaintext models fitted inside the enclave on the joined rows (the data is decrypted only there).

Logistic regression is fitted by Newton's method (IRLS) with an L2 penalty on standardised features,
in numpy; boosting uses XGBoost when it is installed (``pip install xgboost``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from accord.errors import ConfigurationError, UnsupportedError


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, iterations: int = 25) -> Any:
    """Fit L2-regularised logistic regression; returns a function from rows to probabilities."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0  # the intercept is not penalised
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (p - y) + penalty * w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break

    def predict(rows: np.ndarray) -> np.ndarray:
        zz = np.hstack([np.ones((len(rows), 1)), (rows - mean) / std])
        return 1.0 / (1.0 + np.exp(-(zz @ w)))

    return predict


def fit_xgboost(x: np.ndarray, y: np.ndarray, **params: Any) -> Any:
    """Fit an XGBoost classifier with ``params``; returns a function from rows to probabilities."""
    try:
        import xgboost
    except ImportError:
        raise UnsupportedError("model xgboost needs the xgboost package: pip install xgboost") from None
    booster = xgboost.XGBClassifier(tree_method="hist", **params).fit(x, y)
    return lambda rows: booster.predict_proba(rows)[:, 1]


def fit_model(kind: str, params: dict[str, Any], x: np.ndarray, y: np.ndarray) -> Any:
    """Dispatch on the job file's model kind."""
    if kind == "logistic_regression":
        unknown = set(params) - {"l2", "iterations"}
        if unknown:
            raise ConfigurationError(f"logistic_regression takes l2 and iterations, not {sorted(unknown)}")
        return fit_logistic(x, y, **params)
    return fit_xgboost(x, y, **params)

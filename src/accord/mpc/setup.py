"""Engine construction at each party: which engine a session mode uses and how its keys are agreed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accord.errors import ConfigurationError
from accord.mpc.additive_engine import AdditiveEngine
from accord.mpc.engine import Engine
from accord.mpc.preprocessing.base import Roles
from accord.mpc.preprocessing.dealer_provider import (
    DEALER_THREAT_MODEL,
    INSECURE_THREAT_MODEL,
    InsecureSelfDealerProvider,
    TrustedDealerProvider,
)
from accord.mpc.preprocessing.ot_provider import THREAT_MODEL as OT_THREAT_MODEL
from accord.mpc.preprocessing.ot_provider import OTProvider
from accord.mpc.replicated_engine import THREAT_MODEL as REPLICATED_THREAT_MODEL
from accord.mpc.replicated_engine import ReplicatedEngine
from accord.runtime.context import Context


def engine_spec(mode: str) -> tuple[str, str]:
    """The engine name and threat model shown in reports for a session mode."""
    specs = {
        "dealer": ("2pc-dealer", DEALER_THREAT_MODEL),
        "ot": ("2pc-ot", OT_THREAT_MODEL),
        "insecure-self-dealer": ("2pc-INSECURE-self-dealer", INSECURE_THREAT_MODEL),
        "replicated": ("3pc-replicated", REPLICATED_THREAT_MODEL),
    }
    if mode not in specs:
        raise ConfigurationError(f"unknown MPC mode {mode!r}; choose one of {sorted(specs)}")
    return specs[mode]


def setup_engine(ctx: Context, mode: str, parties: Sequence[str], dealer: str | None, *,
                 allow_insecure_test_mode: bool = False) -> Engine[Any]:
    """Run at every participant: agree keys and return this party's engine.

    ``allow_insecure_test_mode`` is the opt-in :class:`InsecureSelfDealerProvider` requires (tests only).
    """
    if mode == "replicated":
        return ReplicatedEngine.setup(ctx, parties)
    roles = Roles(parties[0], parties[1], ctx.me, dealer)
    threat = engine_spec(mode)[1]
    if mode == "dealer":
        provider: Any = TrustedDealerProvider.setup(ctx, roles)
    elif mode == "insecure-self-dealer":
        provider = InsecureSelfDealerProvider.setup(ctx, roles, allow_insecure_test_mode=allow_insecure_test_mode)
    else:
        provider = OTProvider.setup(ctx, roles)
    return AdditiveEngine(provider, threat_model=threat)

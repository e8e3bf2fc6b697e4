"""Small protocols used by the transport tests."""

from __future__ import annotations

from accord.runtime import Context, protocol


@protocol("test.exchange", threat_model="test only", leakage="each party's value goes to every peer")
def exchange_values(ctx: Context, value: str) -> dict[str, str]:
    return ctx.exchange(value, "value")

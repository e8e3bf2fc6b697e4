"""Runnable examples built on the MPC engine (also used by tests and benchmarks)."""

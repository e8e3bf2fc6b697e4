"""Two-party protocols over additive (Z_2^64) and XOR shares, each a thin driver over a Context.

Every function is SPMD: both computing parties and the dealer (or helper) call it with the same
arguments except their own shares; the dealer passes ``None`` for shares and gets ``None`` back.
"""

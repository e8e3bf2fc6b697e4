"""Pure arithmetic: the ring Z_2^64, fixed-point encoding and exact integer matrix products (no I/O, no RNG)."""

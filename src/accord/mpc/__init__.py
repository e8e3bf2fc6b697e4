"""Secure multiparty computation on secret-shared fixed-point, integer and boolean arrays."""

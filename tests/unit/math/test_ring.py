import numpy as np

from accord.mpc.protocols.binary import permute_bits


def test_permutation_is_bit_reversal_of_positions():
    for j in range(64):
        out = permute_bits(np.array([1 << j], dtype=np.uint64))
        assert int(out[0]) == 1 << int(f"{j:06b}"[::-1], 2)
    for j in range(8):
        out = permute_bits(np.array([1 << j], dtype=np.uint8), 8)
        assert int(out[0]) == 1 << int(f"{j:03b}"[::-1], 2)

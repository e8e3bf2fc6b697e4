import numpy as np
import pytest

from accord.errors import InputError
from accord.math.fixed import bound, decode, encode, encode_int
from accord.math.ring import to_ring, to_signed


def test_encode_decode_round_trip():
    x = np.array([0.0, 1.5, -2.25, 1e-5, -123.456])
    assert np.max(np.abs(decode(encode(x, 18), 18) - x)) <= 2.0**-19


def test_negative_values_are_twos_complement():
    assert int(encode(-1.0, 18)) == 2**64 - 2**18
    assert (encode(np.array([-1.0, 1.0]), 18) >> np.uint64(63)).tolist() == [1, 0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinity_are_rejected_naming_party(bad):
    with pytest.raises(InputError, match=r"party 'bank'.*NaN or infinity"):
        encode(np.array([1.0, bad]), 18, party="bank", field="income")


def test_out_of_range_is_rejected_with_the_range():
    with pytest.raises(InputError, match="outside the fixed-point range") as info:
        encode(np.array([bound(18)]), 18, party="bank", field="x")
    assert info.value.party == "bank" and info.value.field == "x"
    encode(np.array([bound(18) * 0.99]), 18)


def test_frac_is_checked():
    with pytest.raises(ValueError):
        encode(1.0, 40)


def test_integers_round_trip_and_range():
    v = np.array([-5, 0, 7, 2**61])
    assert to_signed(encode_int(v)).tolist() == v.tolist()
    assert to_signed(to_ring(np.array([-1], dtype=np.int8))).tolist() == [-1]
    with pytest.raises(InputError):
        encode_int(np.array([2**62]), party="p")


def test_fractional_bits_and_truncation_are_bounded():
    import numpy as np
    import pytest

    import accord
    from accord.math.fixed import MAX_FRAC, check_frac

    with pytest.raises(ValueError):
        check_frac(MAX_FRAC + 1)
    with accord.Cluster.simulate(["a", "b", "c"]) as cluster:
        spu = cluster.mpc(["a", "b"], dealer="c")
        x = spu.share(cluster.party("a").put(np.array([1.5])))
        with pytest.raises(ValueError, match="1 to 31 bits"):
            spu.run(lambda v: v.trunc(32), x)

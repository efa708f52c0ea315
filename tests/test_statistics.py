"""The significance tests behind "up", "down" and "higher than the force" agree with SciPy's own."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from safertogether.measures.summary import equal_rates_p_value, poisson_p_value


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 3000))
def test_the_trend_test_is_scipys_exact_binomial_test(now, before):
    expected = stats.binomtest(now, now + before, 0.5).pvalue if now + before else 1.0
    assert math.isclose(equal_rates_p_value(now, before), expected, rel_tol=1e-9, abs_tol=1e-250)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 5000), st.floats(0.01, 5000))
def test_the_force_comparison_is_a_two_sided_poisson_test(observed, expected_count):
    tails = 2 * min(stats.poisson.cdf(observed, expected_count), stats.poisson.sf(observed - 1, expected_count))
    assert math.isclose(poisson_p_value(observed, expected_count), min(1.0, tails), rel_tol=1e-9, abs_tol=1e-250)

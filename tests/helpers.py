"""Comparison helpers shared by the test modules."""
from __future__ import annotations

import numpy as np


def assert_close(actual, expected, rtol: float = 1e-12, atol: float = 1e-12) -> None:
    """Elementwise |a - e| <= atol + rtol * |e| (NaN matches NaN); shapes must be equal."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)

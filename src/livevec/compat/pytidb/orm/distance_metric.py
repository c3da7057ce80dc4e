"""pytidb's `DistanceMetric`: the names of vector distances. livevec measures COSINE and L2."""

from __future__ import annotations

import enum

from .._errors import ArgumentError


class DistanceMetric(enum.StrEnum):
    """A vector distance by pytidb's name; `VectorField` and `VectorIndex` take COSINE or L2."""

    L1 = "L1"
    L2 = "L2"
    COSINE = "COSINE"
    NEGATIVE_INNER_PRODUCT = "NEGATIVE_INNER_PRODUCT"


def validate_distance_metric(value: DistanceMetric | str) -> DistanceMetric:
    """The `DistanceMetric` a name stands for, in any case ("l2", "COSINE").

    Parameters:
        value: a `DistanceMetric` or its name.

    Returns:
        The `DistanceMetric`.

    Raises:
        ArgumentError: (a `ValueError`) not one of the four names.
    """
    if isinstance(value, DistanceMetric):
        return value
    if isinstance(value, str) and value.upper() in DistanceMetric.__members__:
        return DistanceMetric[value.upper()]
    raise ArgumentError(
        f"invalid distance metric {value!r}: valid options are L1, L2, COSINE, NEGATIVE_INNER_PRODUCT",
        field="distance_metric",
    )

"""pytidb's `orm` names: distance metrics and the index declarations of `__table_args__`."""

from .distance_metric import DistanceMetric, validate_distance_metric
from .indexes import FullTextIndex, VectorIndex

__all__ = ["DistanceMetric", "FullTextIndex", "VectorIndex", "validate_distance_metric"]

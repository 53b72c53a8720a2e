"""Effect heterogeneity engine (econml CATEs, subgroup effects); the design is
``inburgering.designs.heterogeneity``."""

from inburgering.heterogeneity.cate import CateResult, estimate_cate

__all__ = ["CateResult", "estimate_cate"]

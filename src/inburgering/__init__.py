"""Relative effectiveness of civic-integration (inburgering) policy in the G4 cities.

Stages (one subpackage each, see DESIGN.md): ``cbs`` (CBS file catalogue and readers),
``synth`` (synthetic population with planted effects), ``prepare`` (analysis tables),
``did`` (staggered difference-in-differences), ``matching`` (propensity scores, matching,
weighting), ``heterogeneity`` (subgroup effects), ``disclosure`` (CBS output rules) and
``report`` (figures, tables, rendering).
"""

__version__ = "0.1.0"

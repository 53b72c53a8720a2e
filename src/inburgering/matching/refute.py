"""Refutation checks of a matching estimate (dowhy): placebo treatment, random common cause and
data subset, one row per refuter. Used by the matching designs' ``refutations`` side table.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from inburgering.matching._design import check_columns

__all__ = ["refute"]


# dowhy draws a DOT graph with pygraphviz when it can and logs an ERROR on every model when it
# cannot ("Pygraphviz cannot be loaded ... Trying pydot"), then parses it with pydot, which works.
# pygraphviz needs the graphviz C library (absent in RA and here): the message is expected and
# harmless, so it is dropped at its source; any other dowhy message still gets through.
DOWHY_GRAPH_LOGGERS = ("dowhy.causal_graph", "dowhy.graph")


class PygraphvizFallbackFilter(logging.Filter):
    """Drops dowhy's "Pygraphviz cannot be loaded" record (pydot takes over)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Pygraphviz cannot be loaded" not in record.getMessage()


def quiet_pygraphviz_fallback() -> None:
    """Install the filter on dowhy's graph loggers (once)."""
    for name in DOWHY_GRAPH_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, PygraphvizFallbackFilter) for f in logger.filters):
            logger.addFilter(PygraphvizFallbackFilter())


def refute(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    common_causes: Sequence[str],
    graph: str | None = None,
    seed: int = 0,
    num_simulations: int = 20,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """dowhy refutations of a backdoor linear-regression estimate, one row per refuter.

    Columns: refuter, estimate (original), new_effect, p_value. A placebo treatment should give
    a new effect near zero; a random common cause and a data subset should leave it unchanged.
    With ``max_rows``, larger data are first reduced to a seeded random sample of that many rows:
    dowhy refits its regression (with one-hot encoding in pandas) per simulation and refuter,
    about 50 s for 85k persons and 20 simulations; the original estimate is refitted on the same
    sample, so each refutation compares like with like.
    """
    import dowhy

    quiet_pygraphviz_fallback()

    check_columns(data, [treatment, outcome, *common_causes], "refutation")
    frame = data[[treatment, outcome, *common_causes]].copy()
    if max_rows is not None and len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    frame[treatment] = frame[treatment].astype(bool)
    # dowhy one-hot encodes text columns before every regression (twice per simulation); from
    # pandas' Arrow-backed strings each encoding first converts the column to Python objects.
    # Converting once hands the encoder the same values (same columns, same order).
    text = [name for name in frame.columns if pd.api.types.is_string_dtype(frame[name])]
    frame = frame.astype(dict.fromkeys(text, object))
    kwargs = {"graph": graph} if graph else {"common_causes": list(common_causes)}
    model = dowhy.CausalModel(data=frame, treatment=treatment, outcome=outcome, **kwargs)
    estimand = model.identify_effect(proceed_when_unidentifiable=True)
    # Graph parents of the outcome alone (e.g. ``female``) are effect modifiers for dowhy, which
    # then also estimates the effect per modifier value after every fit (a pandas groupby-apply
    # per refutation simulation, a third of the refuters' time). Those conditional effects are
    # never read here, and the average effect does not depend on them, so they are switched off.
    estimate = model.estimate_effect(
        estimand,
        method_name="backdoor.linear_regression",
        method_params={"init_params": {"need_conditional_estimates": False}},
    )
    rows = []
    for name, extra in (
        ("placebo_treatment_refuter", {"placebo_type": "permute"}),
        ("random_common_cause", {}),
        ("data_subset_refuter", {"subset_fraction": 0.8}),
    ):
        result = model.refute_estimate(
            estimand,
            estimate,
            method_name=name,
            num_simulations=num_simulations,
            random_seed=seed,
            **extra,
        )
        p_value = (result.refutation_result or {}).get("p_value", np.nan)
        rows.append(
            {
                "refuter": name,
                "estimate": float(estimate.value),
                "new_effect": float(result.new_effect),
                "p_value": float(p_value),
            }
        )
    return pd.DataFrame(rows)

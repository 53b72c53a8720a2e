"""One figure style for every report: Okabe-Ito colours, print-size fonts, fixed city encoding.

Cities keep the same colour and marker in every figure (colour plus shape, so the figures also
read in greyscale and for colour-blind readers); sizes are in inches at the printed width.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
    "black": "#000000",
}
CITY_COLOURS = {
    "rotterdam": OKABE_ITO["vermillion"],
    "amsterdam": OKABE_ITO["blue"],
    "den_haag": OKABE_ITO["green"],
    "utrecht": OKABE_ITO["purple"],
    "all": OKABE_ITO["black"],
}
CITY_MARKERS = {"rotterdam": "o", "amsterdam": "s", "den_haag": "^", "utrecht": "D", "all": "P"}
SERIES = [OKABE_ITO[k] for k in ("blue", "orange", "green", "vermillion", "purple", "sky_blue")]
FULL_WIDTH = 6.5  # inches: the text width of an A4 page with margins
DPI = 200

RC = {
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.prop_cycle": matplotlib.cycler(color=SERIES),
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "font.family": "DejaVu Sans",
}


def apply() -> None:
    plt.rcParams.update(RC)


def figure(height: float = 3.0, ncols: int = 1, nrows: int = 1, **kwargs):
    """A new figure at full printed width (style applied first, so every figure matches).

    Constrained layout keeps long tick labels inside the figure, so the saved image stays at
    the printed width instead of growing (and shrinking every font on the page)."""
    apply()
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(FULL_WIDTH, height), squeeze=False, **kwargs)


def city_style(city: str) -> dict[str, str]:
    return {
        "color": CITY_COLOURS.get(city, OKABE_ITO["grey"]),
        "marker": CITY_MARKERS.get(city, "o"),
    }


def mark_synthetic(fig, text: str) -> None:
    """A visible mark above a figure made from synthetic data (as a left-aligned suptitle, so
    constrained layout reserves room for it and it never covers a legend or panel title)."""
    fig.suptitle(
        text,
        x=0.005,
        ha="left",
        fontsize=7.5,
        fontweight="bold",
        color=OKABE_ITO["vermillion"],
        bbox={"facecolor": "white", "edgecolor": OKABE_ITO["vermillion"], "pad": 1.5},
    )


def save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    _palette(path)
    return path


def _palette(path: Path) -> None:
    """Store a chart as a 256-colour palette PNG: line art loses nothing visible and the file
    (embedded in every HTML report) shrinks about threefold."""
    from PIL import Image

    with Image.open(path) as image:
        quantized = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    quantized.save(path, optimize=True)

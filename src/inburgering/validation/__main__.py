"""Command line of the Monte Carlo: ``python -m inburgering.validation --seeds 50 ...``
(``validation.montecarlo.main``; ``make montecarlo``)."""

import sys

from inburgering.validation.montecarlo import main

sys.exit(main())

"""One module per estimating rule (``run(job)``: files in, files out), the toolkits they share
(``event_study``: single-city event studies; ``cells``: matching cells) and the ``registry`` from
which the workflow is wired. The engines (``did``, ``matching``, ``heterogeneity``) hold the
estimators and know nothing of rules, configuration or files."""

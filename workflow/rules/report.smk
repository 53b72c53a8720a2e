# Quarto reports rendered from the disclosure-checked export only (results/export/), to every
# format in config report.formats; see docs/report-inputs.md for the files they read.

REPORT_FORMATS = config["report"]["formats"]
# What a render reads of the report section: all but the keys that decide which report files
# exist (formats, cities), so adding a format or a city report rerenders no other report.
RENDER_SETTINGS = {
    key: value
    for key, value in config["report"].items()
    if key not in ("formats", "cities")
}


wildcard_constraints:
    document="main|appendix-methods|appendix-reproducibility",
    city="|".join(config["report"]["cities"]),


rule render_report:
    input:
        # shared partials (included by the sources) first, unnamed: the stage reads `source`
        "reports/_quarto.yml",
        "reports/_setup.qmd",
        "reports/_effects.qmd",
        source="reports/{document}.qmd",
        manifest=rules.export.output.manifest,
        estimates=rules.export.output.estimates,
    output:
        [f"{RESULTS}/reports/{{document}}.{fmt}" for fmt in REPORT_FORMATS],
    log:
        log_file("render_report_{document}"),
    benchmark:
        benchmark_file("render_report_{document}")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        entry="inburgering.report.stage:run",
        document="{document}",
        report=RENDER_SETTINGS,
        focal_city=config["primary"]["city"],
        reform_date=config["prepare"]["reform_date"],
    script:
        RULE_SCRIPT


rule render_city_report:
    input:
        "reports/_quarto.yml",
        "reports/_setup.qmd",
        "reports/_effects.qmd",
        source="reports/city.qmd",
        manifest=rules.export.output.manifest,
        estimates=rules.export.output.estimates,
    output:
        [f"{RESULTS}/reports/city_{{city}}.{fmt}" for fmt in REPORT_FORMATS],
    log:
        log_file("render_city_report_{city}"),
    benchmark:
        benchmark_file("render_city_report_{city}")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        entry="inburgering.report.stage:run",
        document="city",
        city="{city}",
        report=RENDER_SETTINGS,
        focal_city=config["primary"]["city"],
        reform_date=config["prepare"]["reform_date"],
    script:
        RULE_SCRIPT

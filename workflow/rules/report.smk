# Quarto reports rendered from the disclosure-checked export only.


rule render_report:
    input:
        source="reports/{name}.qmd",
        manifest=rules.export.output.manifest,
        estimates=rules.export.output.estimates,
    output:
        html=f"{RESULTS}/reports/{{name}}.html",
    log:
        log_file("render_report_{name}"),
    benchmark:
        benchmark_file("render_report_{name}")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        entry="inburgering.report.stage:run",
        report={"language": config["report"]["language"]},
    script:
        RULE_SCRIPT

# CBS output checking: every exported table passes the disclosure rules; results/export/ is the
# only input of the reports and the package submitted for output checking.


rule export:
    input:
        estimates=rules.gather_estimates.output.estimates,
        sample_flow=rules.prepare.output.sample_flow,
        persons=rules.prepare.output.persons,
    output:
        estimates=f"{RESULTS}/export/estimates.csv",
        sample_flow=f"{RESULTS}/export/sample_flow.csv",
        manifest=f"{RESULTS}/export/MANIFEST.csv",
    log:
        log_file("export"),
    benchmark:
        benchmark_file("export")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        entry="inburgering.disclosure.stage:run",
        disclosure=config["disclosure"],
    script:
        RULE_SCRIPT

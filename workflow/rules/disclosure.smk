# CBS output checking: every exported table passes the disclosure rules; results/export/ is the
# only input of the reports and the package submitted for output checking.


rule export:
    input:
        unpack(export_inputs),
    output:
        estimates=f"{RESULTS}/export/estimates.csv",
        sample_flow=f"{RESULTS}/export/sample_flow.csv",
        manifest=f"{RESULTS}/export/MANIFEST.csv",
        provenance=f"{RESULTS}/export/PROVENANCE.json",
    log:
        log_file("export"),
    benchmark:
        benchmark_file("export")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        entry="inburgering.disclosure.stage:run",
        disclosure=config["disclosure"],
        descriptives=config.get("descriptives", {}),
        # provenance records the configuration the export depends on (not the report's)
        config={key: value for key, value in config.items() if key != "report"},
        data_root=config["data"]["root"],
        alpha=config["estimate"]["alpha"],
        benchmarks=upstream_benchmarks(),
    script:
        RULE_SCRIPT

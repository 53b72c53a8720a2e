# Synthetic CBS-style population with planted effects (only when data.source is synthetic).


rule synth:
    input:
        catalogue=config["data"]["catalogue"],
    output:
        microdata=directory(config["data"]["root"]),
        truth=f"{RESULTS}/synthetic/truth/estimands.csv",
    log:
        log_file("synth"),
    benchmark:
        benchmark_file("synth")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        entry="inburgering.synth.stage:run",
        synth=config.get("synth"),
        data_end=config["data"]["end"],
        reform_date=config["prepare"]["reform_date"],
        horizons=config["estimate"]["horizons"],
    script:
        RULE_SCRIPT

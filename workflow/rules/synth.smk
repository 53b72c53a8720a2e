# Synthetic CBS-style population with planted effects (only when data.source is synthetic).


rule synth:
    input:
        catalogue=config["data"]["catalogue"],
        policies=config["data"]["policies"],
    output:
        microdata=directory(config["data"]["root"]),
        truth=f"{RESULTS}/synthetic/truth/estimands.csv",
        instrument_cells=f"{RESULTS}/synthetic/truth/instrument_cells.csv",
        persons=f"{RESULTS}/synthetic/truth/persons.parquet",
        potential_outcomes=f"{RESULTS}/synthetic/truth/potential_outcomes.parquet",
        parameters=f"{RESULTS}/synthetic/truth/parameters.json",
    log:
        log_file("synth"),
    benchmark:
        benchmark_file("synth")
    conda:
        "../../environment.yml"
    # Two: a worker process writes the CBS-style files while the rule computes the truth.
    threads: 2
    resources:
        mem_mb=6000,
        runtime=30,
    params:
        entry="inburgering.synth.stage:run",
        synth=config.get("synth"),
        data_end=config["data"]["end"],
        prepare=config["prepare"],
        # Whom city_matching compares (its truth): the keys designs.matching reads.
        city_matching={
            key: config["matching"]["city"][key]
            for key in ("treated", "comparisons", "regimes", "groups")
        },
    script:
        RULE_SCRIPT

# Read and validate CBS-style files; build the canonical analysis tables.


rule prepare:
    input:
        microdata(),
        catalogue=config["data"]["catalogue"],
        policies=config["data"]["policies"],
        mergers=config["prepare"]["municipalities"]["mergers"],
    output:
        persons=f"{RESULTS}/data/persons.parquet",
        outcomes=f"{RESULTS}/data/outcomes.parquet",
        person_months=f"{RESULTS}/data/person_months.parquet",
        municipality_policies=f"{RESULTS}/data/municipality_policies.parquet",
        sample_flow=f"{RESULTS}/data/sample_flow.csv",
        data_quality=f"{RESULTS}/data/data_quality.csv",
        files_read=f"{RESULTS}/data/files_read.csv",
    log:
        log_file("prepare"),
    benchmark:
        benchmark_file("prepare")
    conda:
        "../../environment.yml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=30,
    params:
        entry="inburgering.prepare.stage:run",
        data=config["data"],
        prepare=config["prepare"],
    script:
        RULE_SCRIPT

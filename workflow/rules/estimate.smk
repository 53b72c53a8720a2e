# Designs -> tidy estimate rows; on synthetic data, every estimate is compared with the truth.


rule reform_did_part:
    input:
        **design_inputs("reform_did"),
    output:
        **{
            table: part_file(REFORM_DID).replace("{table}", table)
            for table in REFORM_DID.tables
        },
    log:
        log_file("reform_did_{outcome}_h{horizon}"),
    benchmark:
        benchmark_file("reform_did_{outcome}_h{horizon}")
    wildcard_constraints:
        outcome="[a-z_]+",
        horizon="[0-9]+",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        entry=REFORM_DID.entry,
        estimate=estimate_params(DID_ESTIMATE_KEYS),
        outcome=lambda wildcards: wildcards.outcome,
        horizon=lambda wildcards: int(wildcards.horizon),
    script:
        RULE_SCRIPT


rule reform_did:
    input:
        **{table: parts(REFORM_DID, table) for table in REFORM_DID.tables},
    output:
        **design_outputs("reform_did"),
    log:
        log_file("reform_did"),
    benchmark:
        benchmark_file("reform_did")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        entry="inburgering.designs.gather:gather_parts",
    script:
        RULE_SCRIPT


rule city_instrument_did:
    input:
        **design_inputs("city_instrument_did"),
        policies_table=rules.prepare.output.municipality_policies,
    output:
        **design_outputs("city_instrument_did"),
    log:
        log_file("city_instrument_did"),
    benchmark:
        benchmark_file("city_instrument_did")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        entry=design("city_instrument_did").entry,
        estimate=estimate_params([*DID_ESTIMATE_KEYS, "outcomes", "instrument_did"]),
    script:
        RULE_SCRIPT


rule instrument_did:
    input:
        **design_inputs("instrument_did"),
        policies_table=rules.prepare.output.municipality_policies,
    output:
        **design_outputs("instrument_did"),
    log:
        log_file("instrument_did"),
    benchmark:
        benchmark_file("instrument_did")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        entry=design("instrument_did").entry,
        estimate=estimate_params([*DID_ESTIMATE_KEYS, "outcomes", "instrument_did"]),
    script:
        RULE_SCRIPT


rule route_matching_part:
    input:
        **design_inputs("route_matching"),
    output:
        **{
            table: part_file(ROUTE_MATCHING).replace("{table}", table)
            for table in ROUTE_MATCHING.tables
        },
    log:
        log_file("route_matching_{contrast}"),
    benchmark:
        benchmark_file("route_matching_{contrast}")
    wildcard_constraints:
        contrast="[a-z0-9_]+",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        entry=ROUTE_MATCHING.entry,
        matching=config["matching"],
        estimate=estimate_params(MATCHING_ESTIMATE_KEYS),
        contrast=lambda wildcards: wildcards.contrast,
    script:
        RULE_SCRIPT


rule route_matching:
    input:
        **{table: parts(ROUTE_MATCHING, table) for table in ROUTE_MATCHING.tables},
    output:
        **design_outputs("route_matching"),
    log:
        log_file("route_matching"),
    benchmark:
        benchmark_file("route_matching")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        entry="inburgering.designs.gather:gather_parts",
    script:
        RULE_SCRIPT


rule city_matching:
    input:
        **design_inputs("city_matching"),
    output:
        **design_outputs("city_matching"),
    log:
        log_file("city_matching"),
    benchmark:
        benchmark_file("city_matching")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        entry=design("city_matching").entry,
        matching=config["matching"],
        estimate=estimate_params(MATCHING_ESTIMATE_KEYS),
    script:
        RULE_SCRIPT


rule heterogeneity:
    input:
        **design_inputs("heterogeneity"),
    output:
        **design_outputs("heterogeneity"),
    log:
        log_file("heterogeneity"),
    benchmark:
        benchmark_file("heterogeneity")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        entry=design("heterogeneity").entry,
        matching=config["matching"],
        estimate=estimate_params(MATCHING_ESTIMATE_KEYS),
    script:
        RULE_SCRIPT


rule process:
    input:
        persons=rules.prepare.output.persons,
    output:
        estimates=f"{RESULTS}/estimates/process.csv",
        composition=f"{RESULTS}/estimates/composition.csv",
        route_mix=f"{RESULTS}/estimates/route_mix.csv",
        survival=f"{RESULTS}/estimates/route_start_survival.csv",
    log:
        log_file("process"),
    benchmark:
        benchmark_file("process")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        entry="inburgering.process.stage:run",
        data_end=config["data"]["end"],
        alpha=config["estimate"]["alpha"],
    script:
        RULE_SCRIPT


rule gather_estimates:
    input:
        **{
            entry.name: getattr(rules, entry.name).output.estimates
            for entry in REGISTRY
        },
        process=rules.process.output.estimates,
    output:
        estimates=f"{RESULTS}/estimates/estimates.csv",
    log:
        log_file("gather_estimates"),
    benchmark:
        benchmark_file("gather_estimates")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        entry="inburgering.designs.gather:gather",
    script:
        RULE_SCRIPT


rule validate_against_truth:
    input:
        estimates=rules.gather_estimates.output.estimates,
        truth=rules.synth.output.truth,
    output:
        validation=f"{RESULTS}/validation/estimates_vs_truth.csv",
    log:
        log_file("validate_against_truth"),
    benchmark:
        benchmark_file("validate_against_truth")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        entry="inburgering.synth.validation:run",
    script:
        RULE_SCRIPT

# Designs -> tidy estimate rows; on synthetic data, every estimate is compared with the truth.


rule reform_did:
    input:
        persons=rules.prepare.output.persons,
        outcomes=rules.prepare.output.outcomes,
    output:
        estimates=f"{RESULTS}/estimates/reform_did.csv",
    log:
        log_file("reform_did"),
    benchmark:
        benchmark_file("reform_did")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        entry="inburgering.did.reform:run",
        estimate=config["estimate"],
    script:
        RULE_SCRIPT


rule gather_estimates:
    input:
        reform_did=rules.reform_did.output.estimates,
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
        entry="inburgering.estimates:gather",
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

# Designs -> tidy estimate rows; on synthetic data, every estimate is compared with the truth.
#
# One rule per registered design (src/inburgering/designs/registry.py); a scattered design gets
# a part rule (`<design>_part`, one job per wildcard value) and a gather rule named after the
# design that concatenates the parts.

for entry in REGISTRY:
    job_rule, job_name = design_job(entry)

    rule:
        name:
            job_rule
        input:
            **design_inputs(entry),
        output:
            **design_job_outputs(entry),
        log:
            log_file(job_name),
        benchmark:
            benchmark_file(job_name)
        wildcard_constraints:
            **{scatter.wildcard: scatter.pattern for scatter in entry.scatter},
        conda:
            "../../environment.yml"
        threads: 1
        resources:
            mem_mb=4000,
            runtime=30,
        params:
            **design_params(entry),
            entry=entry.entry,
        script:
            RULE_SCRIPT

    if entry.part:

        rule:
            name:
                entry.name
            input:
                **{table: parts(entry, table) for table in entry.tables},
            output:
                **design_outputs(entry),
            log:
                log_file(entry.name),
            benchmark:
                benchmark_file(entry.name)
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


rule process:
    input:
        persons=rules.prepare.output.persons,
        policies=config["data"]["policies"],
        outcomes=rules.prepare.output.outcomes,
    output:
        estimates=f"{RESULTS}/estimates/process.csv",
        composition=f"{RESULTS}/estimates/composition.csv",
        route_mix=f"{RESULTS}/estimates/route_mix.csv",
        survival=f"{RESULTS}/estimates/route_start_survival.csv",
        outcome_trends=f"{RESULTS}/estimates/outcome_trends.csv",
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


rule not_estimated:
    input:
        estimates=rules.gather_estimates.output.estimates,  # after every design
        samples_route=rules.route_matching.output.samples,
        samples_city=rules.city_matching.output.samples,
        samples_heterogeneity=rules.heterogeneity.output.samples,
    output:
        not_estimated=f"{RESULTS}/estimates/not_estimated.csv",
    log:
        log_file("not_estimated"),
    benchmark:
        benchmark_file("not_estimated")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        entry="inburgering.not_estimated:run",
        # The DiD designs record skipped cells in their logs (inburgering.not_estimated.note).
        design_logs=design_logs(),
    script:
        RULE_SCRIPT


rule verdict:
    input:
        estimates=rules.reform_did.output.estimates,
        pretrends=rules.reform_did.output.pretrends,
        honestdid=rules.reform_did.output.honestdid,
        inference=rules.reform_did.output.inference,
        outcome_trends=rules.process.output.outcome_trends,
        policies=config["data"]["policies"],
    output:
        verdict=f"{RESULTS}/estimates/verdict.csv",
    log:
        log_file("verdict"),
    benchmark:
        benchmark_file("verdict")
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        entry="inburgering.primary.stage:run",
        primary=config["primary"],
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
        entry="inburgering.validation.truth:run",
    script:
        RULE_SCRIPT

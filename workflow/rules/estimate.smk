# Designs -> tidy estimate rows; on synthetic data, every estimate is compared with the truth.


rule reform_did_part:
    input:
        persons=rules.prepare.output.persons,
        outcomes=rules.prepare.output.outcomes,
    output:
        **{table: REFORM_PART.replace("{table}", table) for table in REFORM_TABLES},
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
        entry="inburgering.did.reform:run_part",
        estimate=config["estimate"],
        outcome=lambda wildcards: wildcards.outcome,
        horizon=lambda wildcards: int(wildcards.horizon),
    script:
        RULE_SCRIPT


rule reform_did:
    input:
        **{table: reform_parts(table) for table in REFORM_TABLES},
    output:
        estimates=f"{RESULTS}/estimates/reform_did.csv",
        pretrends=f"{RESULTS}/estimates/pretrends.csv",
        honestdid=f"{RESULTS}/estimates/honestdid.csv",
        inference=f"{RESULTS}/estimates/inference.csv",
        uniform_bands=f"{RESULTS}/estimates/uniform_bands.csv",
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
        entry="inburgering.estimates:gather_parts",
    script:
        RULE_SCRIPT


rule city_instrument_did:
    input:
        persons=rules.prepare.output.persons,
        outcomes=rules.prepare.output.outcomes,
        policies=config["data"]["policies"],
        policies_table=rules.prepare.output.municipality_policies,
    output:
        estimates=f"{RESULTS}/estimates/city_instrument_did.csv",
        pretrends=f"{RESULTS}/estimates/city_instrument_did_pretrends.csv",
        honestdid=f"{RESULTS}/estimates/city_instrument_did_honestdid.csv",
        inference=f"{RESULTS}/estimates/city_instrument_did_inference.csv",
        uniform_bands=f"{RESULTS}/estimates/city_instrument_did_uniform_bands.csv",
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
        entry="inburgering.did.city_instruments:run",
        estimate=config["estimate"],
    script:
        RULE_SCRIPT


rule instrument_did:
    input:
        persons=rules.prepare.output.persons,
        outcomes=rules.prepare.output.outcomes,
        policies=config["data"]["policies"],
        policies_table=rules.prepare.output.municipality_policies,
    output:
        estimates=f"{RESULTS}/estimates/instrument_did.csv",
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
        entry="inburgering.did.instrument:run",
        estimate=config["estimate"],
    script:
        RULE_SCRIPT


rule route_matching_part:
    input:
        persons=rules.prepare.output.persons,
        outcomes=rules.prepare.output.outcomes,
    output:
        **{table: ROUTE_PART.replace("{table}", table) for table in MATCHING_TABLES},
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
        entry="inburgering.matching.designs:run_route",
        matching=config["matching"],
        estimate=config["estimate"],
        contrast=lambda wildcards: wildcards.contrast,
    script:
        RULE_SCRIPT


rule route_matching:
    input:
        **{table: route_parts(table) for table in MATCHING_TABLES},
    output:
        estimates=f"{RESULTS}/estimates/route_matching.csv",
        balance=f"{RESULTS}/estimates/route_matching_balance.csv",
        overlap=f"{RESULTS}/estimates/route_matching_overlap.csv",
        sensitivity=f"{RESULTS}/estimates/route_matching_sensitivity.csv",
        refutations=f"{RESULTS}/estimates/route_matching_refutations.csv",
        samples=f"{RESULTS}/estimates/route_matching_samples.csv",
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
        entry="inburgering.estimates:gather_parts",
    script:
        RULE_SCRIPT


rule city_matching:
    input:
        persons=rules.prepare.output.persons,
        outcomes=rules.prepare.output.outcomes,
    output:
        estimates=f"{RESULTS}/estimates/city_matching.csv",
        balance=f"{RESULTS}/estimates/city_matching_balance.csv",
        overlap=f"{RESULTS}/estimates/city_matching_overlap.csv",
        sensitivity=f"{RESULTS}/estimates/city_matching_sensitivity.csv",
        refutations=f"{RESULTS}/estimates/city_matching_refutations.csv",
        samples=f"{RESULTS}/estimates/city_matching_samples.csv",
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
        entry="inburgering.matching.designs:run_city",
        matching=config["matching"],
        estimate=config["estimate"],
    script:
        RULE_SCRIPT


rule heterogeneity:
    input:
        persons=rules.prepare.output.persons,
        outcomes=rules.prepare.output.outcomes,
    output:
        estimates=f"{RESULTS}/estimates/heterogeneity.csv",
        sensitivity=f"{RESULTS}/estimates/heterogeneity_sensitivity.csv",
        samples=f"{RESULTS}/estimates/heterogeneity_samples.csv",
        cate_summary=f"{RESULTS}/estimates/heterogeneity_cate_summary.csv",
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
        entry="inburgering.heterogeneity.designs:run",
        matching=config["matching"],
        estimate=config["estimate"],
    script:
        RULE_SCRIPT


rule process:
    input:
        persons=rules.prepare.output.persons,
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
        reform_did=rules.reform_did.output.estimates,
        instrument_did=rules.instrument_did.output.estimates,
        city_instrument_did=rules.city_instrument_did.output.estimates,
        route_matching=rules.route_matching.output.estimates,
        city_matching=rules.city_matching.output.estimates,
        heterogeneity=rules.heterogeneity.output.estimates,
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

# The G4 inburgering pipeline: CBS-style microdata -> analysis tables -> estimates ->
# disclosure check -> reports. Rules only wire files to functions of the `inburgering` package
# (src/inburgering); see README.md and ../shared/DESIGN.md for the stages and contracts.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/synth.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/estimate.smk"
include: "workflow/rules/disclosure.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        rules.export.output.manifest,
        report_outputs(),
        validation_outputs(),


# Output folders that must never look current when a run that changes them fails
# (inburgering.stale): the rules that make a folder outdated, and the rules that rewrite it.
OUTDATED_BY = {
    f"{RESULTS}/export": ["export"],
    f"{RESULTS}/reports": ["export", "render_report", "render_city_report"],
}
REWRITTEN_BY = {
    f"{RESULTS}/export": ["export"],
    f"{RESULTS}/reports": ["render_report", "render_city_report"],
}
SCHEDULED_RULES = set()


onstart:
    from inburgering.stale import mark_stale, stale_folders

    SCHEDULED_RULES.update(job.rule.name for job in workflow.dag.needrun_jobs())
    mark_stale(
        stale_folders(SCHEDULED_RULES, OUTDATED_BY),
        remove=["MANIFEST.csv", "manifest.json"],
    )


onerror:
    from inburgering.stale import stale_report

    print("\n".join(stale_report(OUTDATED_BY)))


onsuccess:
    from inburgering.not_estimated import summary_lines
    from inburgering.stale import clear_stale, stale_folders

    clear_stale(stale_folders(SCHEDULED_RULES, REWRITTEN_BY))
    print("\n".join(summary_lines(rules.not_estimated.output.not_estimated)))
    print(
        f"Reports: {RESULTS}/reports/  Export for CBS output checking: {RESULTS}/export/"
    )

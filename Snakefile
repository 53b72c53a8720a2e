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
        rules.verdict.output.verdict,
        report_outputs(),
        validation_outputs(),


onsuccess:
    print(
        f"Reports: {RESULTS}/reports/  Export for CBS output checking: {RESULTS}/export/"
    )

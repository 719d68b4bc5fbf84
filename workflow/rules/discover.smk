# Discover: pair labels with videos by stem and record counts -> one manifest per dataset.


rule discover:
    input:
        demo=lambda wc: demo_input(wc.dataset),
        files=lambda wc: [f for p in pairs(wc.dataset) for f in pair_inputs(p)],
    output:
        manifest=f"{OUT}/datasets/{{dataset}}/manifest.parquet",
    params:
        name=lambda wc: wc.dataset,
        spec=lambda wc: DATASETS[wc.dataset],
        code=code_param("discover"),
    log:
        log_path("discover", "{dataset}"),
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/discover.py"

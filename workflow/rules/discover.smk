# Discover: pair labels with videos by stem and record counts -> one manifest per dataset.


rule discover:
    input:
        data=lambda wc: PLAN.data_inputs(wc.dataset),
    output:
        manifest=f"{OUT}/datasets/{{dataset}}/manifest.parquet",
    params:
        name=lambda wc: wc.dataset,
        spec=lambda wc: PLAN.spec(wc.dataset).discovery(),
        expected=lambda wc: PLAN.video_ids(wc.dataset),
        require_tracks=lambda wc: PLAN.needs_tracks(wc.dataset),
        code=code("discover_job", "discover.py"),
    log:
        log_path("discover", "{dataset}"),
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
        cpus_per_task=lambda wc, threads: threads,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/discover.py"

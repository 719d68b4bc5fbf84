# Extract: decode one video once and cut the crops of every instance into a shard, one
# folder per crop setting ({crop} = its key, e.g. 48px-1a2b3c). The job pairs its own files
# (cheap) instead of reading the manifest, so re-discovering a dataset re-extracts only
# what changed.


rule extract:
    input:
        data=lambda wc: PLAN.data_inputs(wc.dataset, wc.video_id),
    output:
        shard=f"{OUT}/datasets/{{dataset}}/crops/{{crop}}/{{video_id}}.parquet",
    params:
        dataset=lambda wc: wc.dataset,
        video_id=lambda wc: wc.video_id,
        spec=lambda wc: PLAN.spec(wc.dataset).discovery(),
        crop=fail_as_workflow_error(
            lambda wc: PLAN.extract_params(wc.dataset, wc.crop, wc.video_id).to_dict()
        ),
        code=code("extract_job", "extract.py"),
    log:
        log_path("extract", "{dataset}", "{crop}", "{video_id}"),
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
        cpus_per_task=lambda wc, threads: threads,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/extract.py"

# Extract: decode one video once and cut the crops of every instance into a shard.
# Its data inputs are the video's own files (or, for demo data, the demo's DONE.json); it
# pairs its files itself (cheap) instead of reading the manifest, so re-discovering a
# dataset (e.g. one video added) re-extracts only what changed. (An `ancient` manifest
# input would hide extract's own param changes whenever discover reruns too.)


rule extract:
    input:
        data=lambda wc: data_inputs(wc.dataset, wc.video_id),
    output:
        shard=f"{OUT}/datasets/{{dataset}}/crops/{{video_id}}.parquet",
    params:
        dataset=lambda wc: wc.dataset,
        video_id=lambda wc: wc.video_id,
        spec=lambda wc: discovery_spec(wc.dataset),
        crop=lambda wc: extract_params(wc.dataset),
        code=code_param("extract"),
    log:
        log_path("extract", "{dataset}", "{video_id}"),
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/extract.py"

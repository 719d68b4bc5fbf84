# Extract: decode one video once and cut the crops of every instance into a shard.
# The manifest is `ancient`: re-discovering a dataset (e.g. a video was added) must not
# re-extract its unchanged videos; the video's own files (or, for demo data, the demo's
# DONE.json) are the data inputs instead.


rule extract:
    input:
        manifest=lambda wc: ancient(manifest_path(wc.dataset)),
        data=lambda wc: data_inputs(wc.dataset, wc.video_id),
    output:
        shard=f"{OUT}/datasets/{{dataset}}/crops/{{video_id}}.parquet",
    params:
        video_id=lambda wc: wc.video_id,
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

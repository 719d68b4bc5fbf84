# Track one video's shard with one model (a checkpoint, or the centroid baseline).


rule track:
    input:
        shard=lambda wc: shard_path(wc.dataset, wc.video_id),
        model=lambda wc: track_model_input(wc.model),
    output:
        parquet=f"{OUT}/tracks/{{model}}/{{dataset}}/{{video_id}}.parquet",
        csv=f"{OUT}/tracks/{{model}}/{{dataset}}/{{video_id}}.csv",
    params:
        model=lambda wc: wc.model,
        baseline=lambda wc: is_baseline(wc.model),
        tracker=lambda wc: tracker_cfg(wc.model),
        code=code_param("track"),
    log:
        log_path("track", "{model}", "{dataset}", "{video_id}"),
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/track.py"

# Track one video's shard with one model (a checkpoint, or a baseline linker) on the
# config's `device` (a GPU is requested on SLURM only when `device: gpu`).


rule track:
    input:
        shard=lambda wc: shard_of(wc.dataset, wc.video_id, wc.model),
        model=lambda wc: PLAN.track_input(wc.model),
    output:
        parquet=f"{OUT}/tracks/{{model}}/{{dataset}}/{{video_id}}.parquet",
        csv=f"{OUT}/tracks/{{model}}/{{dataset}}/{{video_id}}.csv",
    params:
        model=lambda wc: PLAN.model_spec(wc.model),
        tracker=lambda wc: PLAN.tracker(wc.model).to_dict(),
        device=lambda wc: PLAN.track_device(wc.model),
        code=code("track_job", "track.py"),
    log:
        log_path("track", "{model}", "{dataset}", "{video_id}"),
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
        cpus_per_task=lambda wc, threads: threads,
        gpu=lambda wc: PLAN.track_gpus(wc.model) or None,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/track.py"

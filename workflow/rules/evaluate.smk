# Evaluate one tracked video against its ground truth -> tidy metrics CSV (+ events CSV).


rule evaluate:
    input:
        tracks=f"{OUT}/tracks/{{model}}/{{dataset}}/{{video_id}}.parquet",
        gt=lambda wc: gt_shard(wc.dataset, wc.video_id),
    output:
        metrics=f"{OUT}/metrics/{{model}}/{{dataset}}/{{video_id}}.csv",
    params:
        model=lambda wc: wc.model,
        dataset=lambda wc: wc.dataset,
        video_id=lambda wc: wc.video_id,
        metrics={"metrics": EVAL_METRICS},
        detection=lambda wc: detection_params(wc.dataset),
        code=code_param("evaluate"),
    log:
        log_path("evaluate", "{model}", "{dataset}", "{video_id}"),
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/evaluate.py"

# Evaluate one tracked video against its ground truth -> tidy metrics CSV (+ events CSV).


rule evaluate:
    input:
        tracks=f"{OUT}/tracks/{{model}}/{{dataset}}/{{video_id}}.parquet",
        gt=lambda wc: PLAN.ground_truth(wc.dataset, wc.video_id, wc.model),
    output:
        metrics=f"{OUT}/metrics/{{model}}/{{dataset}}/{{video_id}}.csv",
    params:
        model=lambda wc: wc.model,
        dataset=lambda wc: wc.dataset,
        video_id=lambda wc: wc.video_id,
        metrics=PLAN.cfg.evaluate.metrics,
        detection=lambda wc: PLAN.detection(wc.dataset),
        code=code("evaluate_job", "evaluate.py"),
    log:
        log_path("evaluate", "{model}", "{dataset}", "{video_id}"),
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
        cpus_per_task=lambda wc, threads: threads,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/evaluate.py"

# Render tracked videos and aggregate all metrics into one table, one figure and an HTML
# report.


rule render:
    input:
        tracks=f"{OUT}/tracks/{{model}}/{{dataset}}/{{video_id}}.parquet",
        data=lambda wc: PLAN.data_inputs(wc.dataset, wc.video_id),
    output:
        mp4=report(
            f"{OUT}/videos/{{model}}/{{dataset}}/{{video_id}}.mp4",
            category="Tracks",
            labels={"model": "{model}", "dataset": "{dataset}", "video": "{video_id}"},
        ),
    params:
        dataset=lambda wc: wc.dataset,
        video_id=lambda wc: wc.video_id,
        spec=lambda wc: PLAN.spec(wc.dataset).discovery(),
        options={"max_frames": 300},
        code=code("render_job", "render.py"),
    log:
        log_path("render", "{model}", "{dataset}", "{video_id}"),
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
        cpus_per_task=lambda wc, threads: threads,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/render.py"


rule aggregate:
    input:
        metrics=all_metrics,
        videos=lambda wc: [PLAN.render(m, d, v) for m, d, v in PLAN.render_jobs() if PLAN.evaluated(m, d)],
        curves=all_curves,
    output:
        csv=report(SUMMARY["csv"], category="Summary", labels={"file": "metrics table"}),
        png=report(SUMMARY["png"], category="Summary", labels={"file": "metrics figure"}),
        html=SUMMARY["html"],
    params:
        title="dreem-pipeline report",
        code=code("aggregate_job", "aggregate.py"),
    log:
        log_path("aggregate"),
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
        cpus_per_task=lambda wc, threads: threads,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/aggregate.py"

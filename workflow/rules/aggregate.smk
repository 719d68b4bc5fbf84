# Aggregate all metrics into one table, one figure and an HTML report; render one video
# per evaluated dataset (first video, first trained model) for the report.


rule render:
    input:
        tracks=f"{OUT}/tracks/{{model}}/{{dataset}}/{{video_id}}.parquet",
        data=lambda wc: data_inputs(wc.dataset, wc.video_id),
    output:
        mp4=report(
            f"{OUT}/summary/videos/{{model}}/{{dataset}}/{{video_id}}.mp4",
            category="Tracks",
            labels={"model": "{model}", "dataset": "{dataset}", "video": "{video_id}"},
        ),
    params:
        dataset=lambda wc: wc.dataset,
        video_id=lambda wc: wc.video_id,
        spec=lambda wc: discovery_spec(wc.dataset),
        render={"max_frames": 300},
        code=code_param("render"),
    log:
        log_path("render", "{model}", "{dataset}", "{video_id}"),
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/render.py"


rule aggregate:
    input:
        metrics=all_metrics,
        videos=all_renders,
        curves=all_curves,
    output:
        csv=report(SUMMARY["csv"], category="Summary", labels={"file": "metrics table"}),
        png=report(SUMMARY["png"], category="Summary", labels={"file": "metrics figure"}),
        html=SUMMARY["html"],
    params:
        title="dreem-pipeline report",
        code=code_param("aggregate"),
    log:
        log_path("aggregate"),
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/aggregate.py"

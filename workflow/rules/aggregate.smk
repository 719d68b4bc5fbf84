# Render tracked videos and aggregate all metrics into one table, one figure and an HTML
# report (headline, hard cases, videos, provenance); the evaluation means also go to each
# model's MLflow run. Captions for `snakemake --report`: workflow/report/*.rst.


rule render:
    input:
        tracks=f"{OUT}/tracks/{{model}}/{{dataset}}/{{video_id}}.parquet",
        data=lambda wc: PLAN.data_inputs(wc.dataset, wc.video_id),
    output:
        mp4=report(
            f"{OUT}/videos/{{model}}/{{dataset}}/{{video_id}}.mp4",
            caption="../report/video.rst",
            category="Tracked videos",
            subcategory="{dataset}",
            labels={"model": "{model}", "dataset": "{dataset}", "video": "{video_id}"},
        ),
    params:
        dataset=lambda wc: wc.dataset,
        video_id=lambda wc: wc.video_id,
        spec=lambda wc: PLAN.spec(wc.dataset).discovery(),
        options=lambda wc: PLAN.render_options(wc.model),
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
        videos=lambda wc: PLAN.report_renders(),
        curves=lambda wc: PLAN.report_curves(),
        manifests=lambda wc: PLAN.report_manifests(),
    output:
        csv=report(
            SUMMARY["csv"],
            caption="../report/metrics_csv.rst",
            category="Summary",
            labels={"file": "metrics table"},
        ),
        png=report(
            SUMMARY["png"],
            caption="../report/metrics_png.rst",
            category="Summary",
            labels={"file": "metrics figure"},
        ),
        html=report(
            SUMMARY["html"],
            caption="../report/report_html.rst",
            category="Summary",
            labels={"file": "HTML report"},
        ),
    params:
        title=PLAN.report_title(),
        provenance=PLAN.provenance(),
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

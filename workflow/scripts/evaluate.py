"""Rule `evaluate`: tracks table -> tidy metrics CSV (adapter for dreem.evaluation)."""

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.evaluation.evaluate import evaluate_tracks_file, write_metrics

    smk = snakemake  # noqa: F821
    det = smk.params.detection or {}
    if smk.input.gt:
        log.info("detection-level evaluation against %s (%s)", smk.input.gt[0], det)
    summary, events = evaluate_tracks_file(
        smk.input.tracks,
        metrics=smk.params.metrics["metrics"],
        gt_shard=smk.input.gt[0] if smk.input.gt else None,
        match=det.get("match", "centroid"),
        threshold=det.get("threshold"),
    )
    write_metrics(
        summary,
        events,
        smk.output.metrics,
        smk.params.model,
        smk.params.dataset,
        smk.params.video_id,
    )
    log.info("metrics: %s", summary)

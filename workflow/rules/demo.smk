# Synthetic demo data (animals .slp + .mp4, cells in CTC layout). A checkpoint: the demo
# datasets' videos are enumerated only after it has run, so a fresh clone dry-runs.

if DEMO_ENABLED:

    checkpoint demo:
        output:
            done=DEMO_DONE,
        params:
            seed=SEED,
            demo={k: v for k, v in DEMO.items() if k in ("animals", "cells")},
            code=code_param("demo"),
        log:
            log_path("demo"),
        resources:
            mem_mb=lambda wc, attempt: 2000 * attempt,
            runtime=lambda wc, attempt: 30 * attempt,
        conda:
            "../../envs/dreem.yaml"
        script:
            "../scripts/demo.py"

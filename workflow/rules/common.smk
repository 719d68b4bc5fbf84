# Parse-time glue: validate the config once, build the plan (dreem.pipeline.plan), and
# expose what the rules ask of it. Every decision (videos, crop settings, shard paths, each
# job's parameters, code triggers) is the plan's; the CLI builds the same plan.

import functools
import logging
import os
from pathlib import Path

from dreem.config.checks import pipeline_name_errors
from dreem.config.errors import raise_errors
from dreem.config.pipeline import load_pipeline_config
from dreem.config.yaml_io import read_yaml
from dreem.pipeline.code import job_code
from dreem.pipeline.plan import Plan
from dreem.utils.errors import DreemError
from snakemake.exceptions import WorkflowError

# envs/dreem.yaml pip-installs the checkout that holds this Snakefile (see that file).
os.environ.setdefault("DREEM_PIPELINE_ROOT", str(Path(workflow.basedir).resolve()))

# 1. Config: the library validates everything (types, names, cross-references, each model's
#    DREEM config); one error line per problem, each naming its key path.
try:
    for _path in workflow.configfiles:
        read_yaml(_path)  # duplicate keys are errors (YAML itself would keep the last)
    PLAN = Plan(load_pipeline_config(dict(config)))
    # names only installed libraries know (optimizer, scheduler, augmentations, backbone),
    # as `dreem config validate` checks them; a passed check is cached under output_dir
    raise_errors(pipeline_name_errors(PLAN.cfg, Path(PLAN.out) / ".dreem" / "names-checked"))
except DreemError as err:
    raise WorkflowError(f"{err}\n(invalid pipeline config)") from None
for _note in PLAN.notes:
    logging.getLogger("dreem.workflow").warning(_note)

OUT = PLAN.out
SEED = PLAN.cfg.seed
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"
NAME_RE = r"[A-Za-z0-9._-]+"


wildcard_constraints:
    dataset=NAME_RE,
    model=NAME_RE,
    video_id=NAME_RE,
    crop=NAME_RE,


def code(job: str, script: str) -> dict:
    """A rule's code trigger: its script and what its job function can import."""
    return job_code(job, SCRIPTS / script)


def log_path(*parts: str) -> str:
    return f"{OUT}/logs/" + "/".join(parts) + ".log"


def fail_as_workflow_error(fn):
    """Planner errors at job-planning time become WorkflowErrors (no Python traceback)."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DreemError as err:
            raise WorkflowError(str(err)) from None

    return wrapped


@fail_as_workflow_error
def shard_of(dataset: str, video_id: str, model: str) -> str:
    return PLAN.shard(dataset, video_id, model)


# 2. Targets.
def all_metrics(wildcards=None) -> list[str]:
    return [PLAN.metrics(m, d, v) for m, d, v in PLAN.eval_jobs()]


def all_tracks(wildcards=None) -> list[str]:
    return [PLAN.tracks(m, d, v) for m, d, v in PLAN.track_jobs()]


def all_renders(wildcards=None) -> list[str]:
    return [PLAN.render(m, d, v) for m, d, v in PLAN.render_jobs()]


SUMMARY = {
    "csv": f"{PLAN.summary_dir()}/metrics.csv",
    "png": f"{PLAN.summary_dir()}/metrics.png",
    "html": f"{PLAN.summary_dir()}/report.html",
}


def final_outputs() -> list[str]:
    ev = PLAN.cfg.evaluate
    out = list(SUMMARY.values()) if ev.models and ev.datasets else []
    out += [PLAN.checkpoint(m) for m in PLAN.trained()]
    out += [PLAN.manifest(d) for d in PLAN.used_datasets()]
    out += all_tracks() + all_renders()
    return out

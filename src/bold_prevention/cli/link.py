"""``bold link``: probabilistic linkage of any two files (or deduplication of one), privacy-preserving hashing,
linkage QA, clerical review and pair explanations."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from .app import (
    Fmt,
    FormatOption,
    OverwriteOption,
    ProjectOption,
    SeedOption,
    Typer,
    app,
    console,
    out,
    user_errors,
)
from .printing import Grid

link_app = Typer(
    name="link",
    help="Link two files (or deduplicate one) with Splink: `bold link --config FILE --out DIR`. "
         "Subcommands hash identifiers for privacy-preserving linkage, report linkage quality, run clerical "
         "review, explain a pair and count the candidate pairs per blocking rule.",
    no_args_is_help=False,
    invoke_without_command=True,
)
app.add_typer(link_app, name="link")
review_app = Typer(name="review", help="Clerical review: export a sample of pairs, import decisions.",
                         no_args_is_help=True)
link_app.add_typer(review_app, name="review")


def _progress():
    started = time.perf_counter()

    def say(msg: str) -> None:
        console.print(f"[dim]{time.perf_counter() - started:7.1f}s[/] {msg}")

    return say


@link_app.callback()
@user_errors
def link(
    ctx: typer.Context,
    config: Path = typer.Option(None, "--config", "-c", metavar="FILE", help="YAML linkage config (see "
                                "docs/linkage.md)."),
    out_dir: Path = typer.Option(None, "--out", "-o", metavar="DIR", help="Output folder (written atomically)."),
    overwrite: bool = OverwriteOption,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Splink's own progress messages."),
    fmt: Fmt = FormatOption,
) -> None:
    """Link the config's left and right files (or deduplicate the left file when there is no right file)."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None or out_dir is None:
        console.print(ctx.get_help())
        raise typer.Exit(2 if (config or out_dir) else 0)
    from ..linkage.run import link_files

    summary = link_files(config, out_dir, overwrite=overwrite, progress=_progress(), verbose=verbose)
    table = Grid("bands", f"{summary['job'].capitalize()} written to {out_dir}")
    table.column("band").column("threshold", fmt=str).column("pairs").column("persons").column("linked (left)")
    table.column("link rate (left)", fmt=lambda v: "" if v is None else f"{v:.1%}")
    for b, c in summary["clusters"].items():
        table.row(b, summary["thresholds"][b], summary["pairs"]["by_band"][b], c["persons"],
                  c.get("left_records_linked"), c.get("left_link_rate"))
    table.show()
    ex = summary["pairs"]["excluded_by_guards"]
    if ex:
        out.print("Refused by hard non-match rules: " + ", ".join(f"{k} {v:,}" for k, v in ex.items()))
    from ..linkage.guards import guard_lines

    for line, (_g, e) in zip(guard_lines(summary.get("guard_report") or {}),
                             (summary.get("guard_report") or {}).items(), strict=True):
        if e.get("flag"):
            out.print(f"[yellow]Guard {line}[/]", markup=True)
    if summary.get("thin_identifiers"):
        out.print(f"[yellow]Warning: {summary['thin_identifiers']['message']}.[/]")
    if summary["model"].get("default_parameters"):
        out.print(f"[yellow]Model not trained ({summary['model']['default_parameters']}): generic parameters "
                  "used; the bands are rough.[/]")
    ids = summary.get("person_ids", {}).get("medium")
    if ids and summary["person_ids"].get("previous_run"):
        out.print(f"Person ids mapped from {summary['person_ids']['previous_run']}: {ids['kept']:,} kept, "
                  f"{ids['new']:,} new, {ids['retired']:,} retired, {ids['splits']:,} splits, "
                  f"{ids['merges']:,} merges (medium band; person_id_changes_<band>.csv)")
    out.print(f"Model: {out_dir / 'model.json'}; summary: {out_dir / 'summary.md'}")


@link_app.command("hash")
@user_errors
def hash_cmd(
    config: Path = typer.Option(..., "--config", "-c", metavar="FILE", help="Config naming the partner's file "
                                "(its `left`)."),
    out_file: Path = typer.Option(..., "--out", "-o", metavar="FILE", help="Hashed Parquet file to share."),
    side: str = typer.Option("left", "--side", help="Which file of the config to hash: left or right."),
    overwrite: bool = OverwriteOption,
) -> None:
    """Standardise, derive comparison keys and replace every identifier with a keyed hash (run by a data
    partner; the secret comes from the environment variable named by `secret_env`, default BOLD_LINKAGE_SECRET)."""
    from ..linkage.privacy import hash_file

    if side not in ("left", "right"):
        from ..errors import InputError

        raise InputError(f"--side must be left or right (got {side!r})", hint="use --side left or --side right")
    meta = hash_file(config, out_file, overwrite=overwrite, side=side, progress=_progress())
    out.print(f"Hashed {meta['records']:,} records ({', '.join(meta['roles'])}) into {out_file}; "
              f"key check {meta['key_check']} (must be the same for every partner's file).")


def show_blocking_counts(counts, title: str, json_out: Path | None = None) -> None:
    """Print the candidate pairs per blocking rule (and write them as JSON when asked)."""
    from ..files import atomic_file
    from ..linkage.blocking import PAIRS_PER_RECORD_LIMIT

    table = Grid("blocking_rules", title)
    table.column("#").column("blocking rule", justify="left").column("pairs it adds")
    table.column("per record", fmt=lambda v: f"{v:,.2f}").column("cumulative")
    table.column("flag", fmt=lambda v: {"too broad": "[red]too broad[/]", "rough": "[yellow]rough[/]"}.get(v or "", v or ""))
    for i, c in enumerate(counts, 1):
        flag = ", ".join(f for f, on in (("too broad", c.too_broad), ("rough", c.rough)) if on) or None
        table.row(i, c.rule.replace('"', ""), c.pairs, float(c.pairs_per_record), c.cumulative, flag)
    table.show()
    if counts and counts[0].estimate:
        out.print(f"Estimated from {counts[0].sample:.0%} of the records on each side of each blocking join; "
                  "[yellow]rough[/]: under 1,000 pairs counted (take a larger --sample).")
    if any(c.too_broad for c in counts):
        out.print(f"[red]too broad[/]: over {PAIRS_PER_RECORD_LIMIT:g} candidate pairs per record. Its blocks grow "
                  "with the population: tighten the rule with a further key before a large run "
                  "(docs/national-scale-plan.md).")
    if json_out is not None:
        with atomic_file(json_out) as fh:
            json.dump([c.as_dict() for c in counts], fh, indent=2)
        out.print(f"Written to {json_out}")


SampleOption = typer.Option(1.0, "--sample", min=0.0001, max=1.0,
                            help="Share of the records taken on each side of each blocking join (1: exact "
                                 "counts; 0.1: an estimate from a tenth, for millions of records).")
BlockingJsonOption = typer.Option(None, "--json-file", metavar="FILE",
                                  help="Also write the counts to this JSON file.")


@link_app.command("blocking")
@user_errors
def blocking_cmd(
    config: Path = typer.Option(..., "--config", "-c", metavar="FILE", help="YAML linkage config (see "
                                "docs/linkage.md)."),
    sample: float = SampleOption,
    json_out: Path | None = BlockingJsonOption,
    fmt: Fmt = FormatOption,
) -> None:
    """Count the candidate pairs each blocking rule would make, before anything is scored: the cost of the job."""
    from ..linkage.run import count_blocked_pairs

    with console.status("counting candidate pairs per blocking rule"):
        counts = count_blocked_pairs(config, sample=sample)
    show_blocking_counts(counts, f"Candidate pairs per blocking rule: {config}", json_out)


@link_app.command("qa")
@user_errors
def qa_cmd(
    run_dir: Path = typer.Option(..., "--run", metavar="DIR", help="Output folder of a `bold link` run."),
    out_dir: Path = typer.Option(..., "--out", "-o", metavar="DIR", help="Folder for qa.html and qa.json."),
    truth: Path = typer.Option(None, "--truth", help="CSV/Parquet of record_id, person_id (and optionally "
                                                     "dataset): the true persons, for precision/recall/F1."),
    outcomes: Path = typer.Option(None, "--outcomes", help="CSV/Parquet of record_id and an outcome flag (e.g. "
                                                           "reoffended): its rate is shown at each band."),
    outcome_column: str = typer.Option("outcome", "--outcome-column", help="Outcome column in --outcomes."),
    labels: Path = typer.Option(None, "--labels", help="CSV/Parquet of left_id, right_id, label (match / "
                                                       "non-match): a partial set of labelled pairs, for precision "
                                                       "and recall with Wilson intervals."),
    overwrite: bool = OverwriteOption,
) -> None:
    """Linkage QA report: link rates by group, accuracy against a truth or labelled pairs, threshold sensitivity,
    clerical review."""
    from ..linkage.qa import write_qa_report

    report = write_qa_report(run_dir, out_dir, overwrite=overwrite, truth=truth, outcomes=outcomes,
                             outcome_column=outcome_column, labels=labels)
    out.print(f"QA report: {out_dir / 'qa.html'} (and qa.json)")
    if "accuracy" in report:
        for b, v in report["accuracy"]["overall"].items():
            out.print(f"  {b}: precision {v['precision']}, recall {v['recall']}, F1 {v['f1']}")
    if "labelled_accuracy" in report:
        la = report["labelled_accuracy"]
        out.print(f"From {la['labelled_pairs']:,} labelled pairs ({la['labelled_matches']:,} matches):")
        for b, v in la["by_band"].items():
            pc, rc = v["precision_ci95"], v["recall_ci95"]
            out.print(f"  {b}: precision {v['precision']}" + (f" ({pc[0]:.3f}-{pc[1]:.3f})" if pc else "")
                      + f", recall {v['recall']}" + (f" ({rc[0]:.3f}-{rc[1]:.3f})" if rc else ""))


@review_app.command("export")
@user_errors
def review_export(
    run_dir: Path = typer.Option(..., "--run", metavar="DIR", help="Output folder of a `bold link` run."),
    out_file: Path = typer.Option(..., "--out", "-o", metavar="FILE", help="CSV of pairs to review."),
    n: int = typer.Option(200, "--pairs", "--n", help="Number of pairs."),
    strata: int = typer.Option(8, "--strata", help="Match-weight strata."),
    seed: int = SeedOption,
    config: Path = typer.Option(None, "--config", "-c", metavar="FILE", help="The run's config: adds both "
                                "records' standardised identifiers for reviewers (the file is then personal "
                                "data)."),
    overwrite: bool = OverwriteOption,
) -> None:
    """Export a sample of scored pairs, stratified by match weight, with an empty decision column."""
    from ..linkage.qa import review_sample

    ids = _identifier_tables(config) if config else None
    res = review_sample(run_dir, out_file, n=n, strata=strata, seed=seed, identifiers=ids, overwrite=overwrite)
    out.print(f"Wrote {res['pairs']} pairs in {res['strata']} strata to {out_file}: fill in `decision` "
              "(match / non-match / unsure), then run `bold link review import`.")


@review_app.command("import")
@user_errors
def review_import(
    run_dir: Path = typer.Option(..., "--run", metavar="DIR", help="Output folder of a `bold link` run."),
    decisions: Path = typer.Option(..., "--decisions", metavar="FILE", help="The review CSV with decisions "
                                   "filled in."),
    out_file: Path = typer.Option(None, "--out", "-o", metavar="FILE", help="Also write the estimate as JSON here."),
    fmt: Fmt = FormatOption,
) -> None:
    """Estimate precision at each band from reviewers' decisions (Wilson 95% interval)."""
    from ..files import atomic_file
    from ..linkage.qa import review_precision

    res = review_precision(run_dir, decisions)
    pct = lambda v: "" if v is None else f"{v:.1%}"  # noqa: E731
    table = Grid("precision", f"Precision from {res['decisions']} clerical decisions")
    table.column("band").column("pairs").column("reviewed").column("precision", fmt=pct)
    table.column("95% lower", fmt=pct).column("95% upper", fmt=pct)
    for b, v in res["by_band"].items():
        ci = v.get("ci95") or (None, None)
        table.row(b, v.get("pairs", 0), v.get("reviewed", 0), v.get("precision"), ci[0], ci[1])
    table.show()
    if out_file:
        with atomic_file(out_file) as fh:
            json.dump(res, fh, indent=2)


@link_app.command("explain")
@user_errors
def explain_cmd(
    config: Path = typer.Option(..., "--config", "-c", metavar="FILE", help="The run's config (to read both "
                                "records)."),
    run_dir: Path = typer.Option(..., "--run", metavar="DIR", help="Output folder of the `bold link` run (its "
                                 "model)."),
    left_id: str = typer.Option(..., "--left", help="Record id in the left file."),
    right_id: str = typer.Option(..., "--right", help="Record id in the right file (the left file for a dedupe)."),
    out_file: Path = typer.Option(..., "--out", "-o", metavar="FILE", help="HTML page to write (offline chart, no "
                                  "CDN)."),
    fmt: Fmt = FormatOption,
) -> None:
    """Explain one pair: the match-weight waterfall as a table and an offline chart."""
    from ..files import atomic_file
    from ..linkage.run import explain_pair

    exp = explain_pair(config, run_dir, left_id, right_id)
    with atomic_file(out_file) as fh:
        fh.write(exp.html(title=f"Why {left_id} and {right_id} score {exp.match_probability:.4f}"))
    table = Grid("waterfall", f"{left_id} vs {right_id}: match weight {exp.match_weight:.2f}, "
                              f"probability {exp.match_probability:.4f}")
    table.column("comparison").column("level", fmt=lambda v: str(v)[:48])
    table.column("left", fmt=lambda v: str(v)[:24]).column("right", fmt=lambda v: str(v)[:24])
    table.column("weight", fmt=lambda v: f"{v:+.2f}").column("cumulative", fmt=lambda v: f"{v:+.2f}")
    for r in exp.table():
        table.row(r["comparison"], r["level"], r["value_left"], r["value_right"], float(r["match_weight"]),
                  float(r["cumulative_match_weight"]))
    table.show()
    out.print(f"Chart and table: {out_file}")


def _identifier_tables(config: Path):
    from ..linkage.run import standardised_tables

    tables = standardised_tables(config)
    return tables[0], (tables[1] if len(tables) > 1 else None)


@link_app.command("xjs-audit")
@user_errors
def xjs_audit_cmd(
    project: Path | None = ProjectOption,
    truth: Path = typer.Option(None, "--truth", help="Truth folder of a synthetic population (truth_record.parquet)"
                                                     ": scores XJS, the model and the improved id against it."),
    review: Path = typer.Option(None, "--review", help="CSV of left_key, right_key, label (keys "
                                                       "<source_dataset>:<row_id_hash>): a clerical sample, for "
                                                       "XJS's precision and recall with Wilson intervals."),
    json_out: Path = typer.Option(None, "--json-file", metavar="FILE", help="Also write the report to this JSON "
                                  "file."),
    no_improved: bool = typer.Option(False, "--no-improved", help="Do not write linkage.xjs_link_improved."),
    split: str = typer.Option("none", "--split", metavar="MODE",
                              help="Also split XJS persons: 'low-band' where the model separates their records even "
                                   "at its low band (raises precision; costs recall where the model is weak), "
                                   "'contradictions' only where a low-band person inside contradicts the rest "
                                   "(dates of birth a generation apart, court-role ages that rule each other out); "
                                   "'none' (the default) only joins."),
) -> None:
    """Audit the XJS table: re-link the justice identities with the toolkit's model, count the persons XJS splits
    and merges, estimate its precision and recall, and write an improved person id (XJS plus high-confidence
    merges) the spine can be built on."""
    from ..errors import InputError
    from ..files import atomic_file
    from ..linkage.xjs_audit import audit_xjs
    from ..project import Project
    from ..warehouse.engine import duckdb_connect

    modes: dict[str, bool | str] = {"none": False, "low-band": True, "contradictions": "contradictions"}
    if split not in modes:
        raise InputError(f"--split {split!r} is not a split mode", hint="use none, low-band or contradictions")
    proj = Project.at(project)
    if not proj.warehouse_path.exists():
        raise InputError(f"no warehouse at {proj.warehouse_path}", hint="run `bold load` first, or pass --project")
    con = duckdb_connect(proj, read_only=False)
    try:
        report = audit_xjs(con, truth_dir=truth, review=review, write_improved=not no_improved, split=modes[split],
                           progress=_progress())
    finally:
        con.close()
    s, m = report["splits"], report["merges"]
    out.print(f"XJS persons (medium band): {report['xjs_persons_medium']:,}; improved id: "
              f"{report['improved_persons_medium']:,}")
    out.print(f"Split by XJS, joined by the model with high confidence: {s['xjs_person_pairs_joined_by_model_high']:,}"
              f" pairs of XJS persons ({s['xjs_persons_involved']:,} persons)")
    out.print(f"Joined by XJS, split by the model even at the low band: {m['xjs_persons_split_by_model_low']:,}")
    for name, v in (report.get("against_truth") or {}).items():
        out.print(f"  {name}: precision {v['precision']}, recall {v['recall']}, F1 {v['f1']} (against the truth)")
    for name in ("xjs", "improved"):
        v = (report.get("clerical_review") or {}).get(name)
        if v:
            out.print(f"  {name} from {report['clerical_review']['reviewed_pairs']:,} reviewed pairs: precision "
                      f"{v['precision']} {v['precision_ci95']}, recall {v['recall']} {v['recall_ci95']}")
    if report.get("improved_table"):
        out.print(f"Improved person id written to {report['improved_table']} (build the spine on it with "
                  "build_person_records(..., link_table=...)).")
    if json_out is not None:
        with atomic_file(json_out) as fh:
            json.dump(report, fh, indent=2, default=str)

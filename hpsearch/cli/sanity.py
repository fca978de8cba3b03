"""``hpsearch sanity``: the lecture's babysitting checks on a study's trainer."""

from hpsearch.cli.output import say
from hpsearch.errors import HpsearchError
from hpsearch.storage.runfolder import RunFolder

__all__ = ["cmd_sanity"]


def _sanity_arguments(sf, overrides=()):
    """(the MLP objective, trial params, its configuration, the settings shown) for ``sanity``.

    The configuration checked is the file's fixed [trainer] settings with every [space]
    parameter at the middle of its range (geometric middle for log ranges) or its first
    choice, then the ``--set KEY=VALUE`` overrides.
    """
    from models import MLPObjective

    if not isinstance(sf.objective, MLPObjective):
        raise HpsearchError(f"{sf.path}: 'hpsearch sanity' checks the MLP trainer; this study uses the "
                            f"objective {sf.objective_ref!r}")
    middle = sf.sanity_settings()
    params = {name: middle[name] for name in sf.space}
    params.update(_parse_overrides(overrides))
    try:
        sf.objective.validate(params)
        config = sf.objective.configuration(params)
    except ValueError as exc:
        raise HpsearchError(f"{sf.path}: sanity configuration: {exc}") from None
    mlp, trainer = config["mlp"], config["trainer"]
    shown = {"activation": mlp.get("activation", "relu"), "init": mlp.get("init", "he"),
             "optimizer": trainer.get("optimizer", "adam"), "lr": trainer.get("lr", 1e-3),
             "hidden_dims": config["hidden_dims"],
             **{k: v for k, v in mlp.items() if k not in ("activation", "init", "reg")},
             "preprocess": config["data"].get("preprocess", "none")}
    return params, config, shown


def _parse_overrides(overrides):
    """``["lr=0.01", "activation=tanh", "hidden_dims=[64, 64]"]`` -> a params dict (values read as TOML)."""
    import tomllib

    params = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise HpsearchError(f"--set needs KEY=VALUE, got {item!r}")
        try:
            params[key] = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            params[key] = text.strip()  # a bare word: activation=tanh
    return params


def _sanity_text(sf, source, shown, report):
    def mark(ok):
        return "PASS" if ok else "FAIL"

    def fmt(value):
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = [f"sanity checks for study {sf.name!r} on {source!r}",
             "configuration: " + ", ".join(f"{k}={fmt(v)}" for k, v in shown.items()),
             "  ([space] parameters at the middle of their range, choices at their first value, "
             "then any --set)"]
    c = report["num_classes"]
    lines.append(f"  [{mark(report['initial_loss_ok'])}] initial loss {report['initial_loss']:.4f} with reg=0; "
                 f"expected ln({c}) = {report['expected_initial_loss']:.4f}")
    regs = report["reg_check"]
    steps = ", ".join(f"reg={fmt(float(r))}: {loss:.4g}" for r, loss in zip(regs["regs"], regs["losses"]))
    lines.append(f"  [{mark(regs['ok'])}] loss rises with reg: {steps}")
    over = report["overfit"]
    lines.append(f"  [{mark(over['ok'])}] overfit {over['n_samples']} training samples: train acc "
                 f"{over['train_acc']:.3f} after {over['epochs']} epochs (reg=0; should reach 1.000)")
    lines.append("per-layer statistics (one forward/backward pass; first 1000 training samples):")
    lines.append(f"  {'layer':>5}  {'activation':<10}  {'mean':>9}  {'std':>9}  {'dead':>6}  {'saturated':>9}  "
                 f"{'grad norm':>9}")
    for layer in report["layers"]:
        lines.append(f"  {layer['layer']:>5}  {layer['activation']:<10}  {layer['mean']:>9.3g}  "
                     f"{layer['std']:>9.3g}  {layer['dead_fraction']:>6.1%}  {layer['saturated_fraction']:>9.1%}  "
                     f"{layer['grad_norm']:>9.3g}")
    stds = [layer["std"] for layer in report["layers"]]
    if len(stds) > 1 and stds[0] > 0 and stds[-1] < 0.1 * stds[0]:
        lines.append(f"  activations shrink from std {stds[0]:.3g} to {stds[-1]:.3g} through the layers: "
                     f"vanishing signal (try xavier or he init)")
    grads = [layer["grad_norm"] for layer in report["layers"]]
    if len(grads) > 1 and grads[-1] > 0 and grads[0] < 1e-3 * grads[-1]:
        lines.append(f"  gradients vanish towards the input: grad norm {grads[-1]:.3g} at layer {len(grads)}, "
                     f"{grads[0]:.3g} at layer 1")
    lines.append("all checks passed" if report["ok"] else "some checks FAILED")
    return "\n".join(lines)


def cmd_sanity(args, argv):
    from models import sanity_report

    from hpsearch.studyfile.reader import load_study_file

    sf = load_study_file(args.study)
    out = RunFolder(args.out if args.out else RunFolder.for_study(sf.name).path).refuse_links().path
    params, config, shown = _sanity_arguments(sf, args.set)
    data = sf.objective.load_data(params)
    trainer = config["trainer"]
    mlp = {k: v for k, v in config["mlp"].items() if k != "reg"}   # the report sweeps reg itself
    report = sanity_report(data, hidden_dims=config["hidden_dims"], optimizer=trainer.get("optimizer", "adam"),
                           lr=trainer.get("lr", 1e-3), seed=sf.seed, **mlp)
    source = sf.objective.dataset if isinstance(sf.objective.dataset, str) else "data"
    say(_sanity_text(sf, source, shown, report))
    out.mkdir(parents=True, exist_ok=True)
    from hpsearch.plots import save_sanity_plot

    path = save_sanity_plot(report, out / "sanity.png")
    say(f"wrote: {path}")
    lr_ok = True
    if not args.no_lr_range:
        lr_ok = _lr_range(sf, data, config, out)
    # exit 1 when a check fails, so scripts can gate a search on it
    return 0 if report["ok"] and lr_ok else 1


def _lr_range(sf, data, config, out):
    """The lecture's next step: which learning rates make the loss go down; True if some do."""
    from models import lr_range_check

    from hpsearch.studyfile.lr_advice import lr_advice
    from hpsearch.plots.lr_range import save_lr_range_plot

    trainer = config["trainer"]
    options = {k: v for k, v in trainer.items() if k not in ("lr", "lr_decay", "train_acc_samples")}
    check = lr_range_check(data, seed=sf.seed, hidden_dims=config["hidden_dims"], **config["mlp"], **options)
    current = sf.space.get("lr")
    advice = lr_advice(check, current)
    say("")
    say(_lr_text(check, advice, current))
    path = save_lr_range_plot(check, out / "lr_range.png", current=current)
    say(f"wrote: {path}")
    say(f"wrote: {_save_lr_range(check, advice, current, out)}")
    return advice["ok"]


def _save_lr_range(check, advice, current, out):
    """The check's result as JSON in the run folder (``hpsearch dashboard`` shows it), written
    atomically and never through a planted symbolic link (``safe_files``)."""
    import json

    from hpsearch.storage.runfolder import LR_RANGE
    from hpsearch.storage.safe_files import write_text

    def plain(value):
        tolist = getattr(value, "tolist", None)
        return tolist() if callable(tolist) else str(value)

    result = {"optimizer": check.get("optimizer"), "iterations": check.get("iterations"),
              "n_seeds": check.get("n_seeds"), "batch_size": check.get("batch_size"), "good": check.get("good"),
              "best_lr": check.get("best_lr"), "suggested": check.get("suggested"), "table": check.get("table"),
              "advice": {"line": advice["line"], "coverage": advice["coverage"], "warnings": advice["warnings"]},
              "study_range": None if current is None or not getattr(current, "ordered", False)
              else [float(current.low), float(current.high)]}
    return write_text(out / LR_RANGE, json.dumps(result, indent=2, default=plain, allow_nan=True) + "\n", root=out)


def _lr_text(check, advice, current):
    lines = [f"learning-rate range check: {check['iterations']} iterations from the same initialisation at each "
             f"rate, loss averaged over {check['n_seeds']} seeds ({check['optimizer']}, batch {check['batch_size']})",
             f"  {'lr':>8}  {'start':>7}  {'end':>8}  {'drop':>5}  zone"]
    for row in check["table"]:
        end = "diverged" if row["diverged"] else f"{row['end_loss']:.3f}"
        drop = "" if row["drop"] != row["drop"] else f"{row['drop']:.0%}"
        lines.append(f"  {row['lr']:>8.1e}  {row['start_loss']:>7.3f}  {end:>8}  {drop:>5}  {row['zone']}")
    if check["good"] is not None:
        lines.append(f"  good zone [{check['good'][0]:.0e}, {check['good'][1]:.0e}], the loss falls most at "
                     f"{check['best_lr']:.0e}")
    if advice["line"]:
        lines.append(f"search (study-file line): {advice['line']}")
    if current is not None and advice["coverage"] is not None:
        lines.append(f"  the study's lr range [{current.low:.0e}, {current.high:.0e}] covers "
                     f"{advice['coverage']:.0%} of the good zone")
    lines += [f"  warning: {w}" for w in advice["warnings"]]
    return "\n".join(lines)

"""Fig. 6: training and validation loss against epoch."""

from __future__ import annotations

from matplotlib.figure import Figure

from isac.experiments.figures.plotting import plot_groups
from isac.experiments.figures.rows import Rows, display
from isac.experiments.sweeps import Run


def fig6(runs: list[Run]) -> tuple[Rows, Figure]:
    """Training and validation loss (30) against epoch, per network and training-set size."""
    rows = [
        {
            "network": run.metrics["model"],
            "n_train": run.metrics["n_train"],
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "val_loss": val_loss,
        }
        for run in runs
        for epoch, train_loss, val_loss in zip(
            run.metrics["history"]["epoch"],
            run.metrics["history"]["train_loss"],
            run.metrics["history"]["val_loss"],
            strict=True,
        )
    ]
    rows.sort(key=lambda r: (r["network"], r["n_train"], r["epoch"]))
    # in the sweep's job order, which follows the experiment's list of models
    labels = {run.metrics["model"]: display([run], run.metrics["model"])[0] for run in runs}
    networks = list(labels)
    fig = Figure(figsize=(5.5 * len(networks), 7.5), layout="constrained")
    fig.suptitle("Fig. 6: training and validation loss (−WSNR) against epoch")
    grid = fig.subplots(2, len(networks), squeeze=False)
    for col, network in enumerate(networks):
        for row, (key, name) in enumerate((("train_loss", "Train_loss"), ("val_loss", "Val_loss"))):
            ax = grid[row][col]
            plot_groups(
                ax,
                [r for r in rows if r["network"] == network],
                "epoch",
                key,
                ("n_train",),
                lambda n_train: f"Train_num = {n_train}",
                scheme=None,
                optimum=False,
                style={"marker": None},
            )
            ax.set(title=f"{labels[network]}: {name}", xlabel="Epoch", ylabel=f"{name} (−WSNR)")
            ax.grid(True, alpha=0.3)
            ax.legend()
    return rows, fig

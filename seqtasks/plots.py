"""PNG plots written into a run directory (matplotlib, no display needed), atomically."""

from pathlib import Path

from seqtasks.files import atomic_file


def line_plot(path, x, lines, *, title="", xlabel="", ylabel="", logy=False):
    """Plot ``lines`` (``{label: y values}``) against ``x`` into the PNG ``path``; returns it."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 4.5), dpi=100)
    try:
        for label, y in lines.items():
            axes.plot(x, y, label=label, linewidth=1.2)
        if logy:
            axes.set_yscale("log")
        axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
        axes.grid(alpha=0.3)
        axes.legend()
        if len(x) and hasattr(x[0], "year"):
            figure.autofmt_xdate()
        figure.tight_layout()
        path = Path(path)
        with atomic_file(path) as tmp:
            figure.savefig(tmp, format="png")
    finally:
        plt.close(figure)
    return path

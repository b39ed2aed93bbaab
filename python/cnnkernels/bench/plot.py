"""--plot: median time against kernel size R = S for each algorithm (and PyTorch), from the kernel-size
sweep's records (or all records when there is no sweep); needs matplotlib."""


def plot_sweep(records, algos, path, key="R"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sweep = [r for r in records if r["case"].startswith("kernel-")]
    if not sweep:
        sweep = records
    xs = [r[key] for r in sweep]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for a in algos:  # an algorithm that cannot run some sizes (winograd: 3x3 only) is plotted where it ran
        ran = [r for r in sweep if a in r["algos"]]
        if ran:
            ax.plot([r[key] for r in ran], [r["algos"][a]["time_s"] * 1e3 for r in ran], marker="o", label=a)
    if all("torch_time_s" in r for r in sweep):
        ax.plot(xs, [r["torch_time_s"] * 1e3 for r in sweep], marker="x", linestyle="--", label="PyTorch")
    ax.set_xlabel("kernel size R = S")
    ax.set_ylabel("time (ms, median)")
    ax.set_yscale("log")
    g = sweep[0]
    ax.set_title(f"conv2d N{g['N']} C{g['C']} {g['H']}x{g['W']} K{g['K']}, {g['dtype']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

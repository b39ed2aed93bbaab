"""What the terminal shows: the convolution and op tables, the auto-regret figure, and the progress bar."""

import sys


def _fmt_time(t):
    return f"{t * 1e3:9.3f}" if t is not None else f"{'-':>9}"


def print_conv_table(records, algos, peak=None, out=None):
    out = out or sys.stdout
    cols = [f"{a + ' ms':>10} {'GF/s':>6} {'xdir':>5}" for a in algos]
    header = f"{'case':<17} " + " ".join(cols) + f" {'best':>6} {'%peak':>5} {'auto':>6} {'torch ms':>9}" \
             f" {'tch/best':>8} {'tch/spat':>8} {'max err':>8}"
    print(header, file=out)
    print("-" * len(header), file=out)
    for rec in records:
        parts = []
        for a in algos:
            r = rec["algos"].get(a)
            if r is None:
                parts.append(f"{'-':>10} {'-':>6} {'-':>5}")
            else:
                parts.append(f"{r['time_s'] * 1e3:10.3f} {r['gflops']:6.1f} {r.get('speedup_vs_direct', 1):5.2f}")
        best = min(rec["algos"], key=lambda a: rec["algos"][a]["time_s"])
        t_best = rec["algos"][best]["time_s"]
        torch_t = rec.get("torch_time_s")
        ratio = f"{torch_t / t_best:8.2f}" if torch_t else f"{'-':>8}"
        # torch / best spatial algorithm (direct or im2col): the CPU-speed issue's measure
        spatial = [rec["algos"][a]["time_s"] for a in ("direct", "im2col") if a in rec["algos"]]
        ratio += f" {torch_t / min(spatial):8.2f}" if torch_t and spatial else f" {'-':>8}"
        err = max(r["max_rel_err"] for r in rec["algos"].values())
        frac = f"{rec['algos'][best]['gflops'] / peak:5.0%}" if peak else f"{'-':>5}"
        print(f"{rec['case']:<17} " + " ".join(parts) + f" {best:>6} {frac} {str(rec.get('auto_pick') or '-'):>6}"
              f" {_fmt_time(torch_t)} {ratio} {err:8.1e}", file=out)
    for rec in records:
        if "numpy_matmul_time_s" in rec:
            t_np = rec["numpy_matmul_time_s"]
            t_best = min(r["time_s"] for r in rec["algos"].values())
            print(f"{rec['case']}: NumPy matmul of the same product {t_np * 1e3:.3f} ms; "
                  f"NumPy time / ours = {t_np / t_best:.2f}", file=out)
        if "scipy_fftconvolve_time_s" in rec:
            t_sp = rec["scipy_fftconvolve_time_s"]
            t_best = min(r["time_s"] for r in rec["algos"].values())
            print(f"{rec['case']}: scipy.signal.fftconvolve(mode='same') {t_sp * 1e3:.3f} ms; "
                  f"SciPy time / ours = {t_sp / t_best:.2f}", file=out)


def print_op_table(records, bandwidth, out=None):
    out = out or sys.stdout
    header = f"{'op':<26} {'ms':>9} {'GB/s':>7} {'of bw':>6} {'torch ms':>9} {'torch/us':>8}"
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in records:
        tt = r.get("torch_time_s")
        ratio = f"{tt / r['time_s']:8.2f}" if tt else f"{'-':>8}"
        print(f"{r['case']:<26} {r['time_s'] * 1e3:9.3f} {r['gbps']:7.2f} {r['gbps'] / bandwidth:6.0%}"
              f" {_fmt_time(tt)} {ratio}", file=out)


def auto_regret(records):
    """(fraction of cases where auto's pick is within 10% of the fastest, worst pick time / fastest)."""
    ratios = []
    for rec in records:
        pick = rec.get("auto_pick")
        if pick is None or pick not in rec["algos"]:
            continue
        best = min(r["time_s"] for r in rec["algos"].values())
        ratios.append(rec["algos"][pick]["time_s"] / best)
    if not ratios:
        return None, None
    return sum(r <= 1.10 for r in ratios) / len(ratios), max(ratios)


class Progress:
    """A one-line progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, total):
        self.total, self.done = total, 0
        self.enabled = sys.stderr.isatty()

    def step(self, label):
        self.done += 1
        if self.enabled:
            width = 30
            filled = int(width * self.done / self.total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {label:<20}")
            sys.stderr.flush()
            if self.done == self.total:
                sys.stderr.write("\r" + " " * (width + 50) + "\r")

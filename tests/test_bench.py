"""The `cnnkernels bench` command: it runs, its table, JSON and plot carry what the issue names, bad
options are refused, and the auto-regret figure is computed from the records."""

import json
import subprocess
import sys

import pytest

from cnnkernels import bench


def test_layer_run_writes_json_with_every_column(tmp_path, capsys):
    out = tmp_path / "b.json"
    rc = bench.main(["--layer", "lenet-conv2", "--quick", "--no-torch", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "lenet-conv2" in text and "auto regret" in text
    data = json.loads(out.read_text())
    assert {"cpu", "threads", "isa", "gemm_peak_gflops", "numpy"} <= set(data["machine"])
    (rec,) = data["records"]
    assert set(rec["algos"]) == set(bench.available_algos()) - {"winograd"}  # 5x5: winograd cannot run it
    for r in rec["algos"].values():
        assert r["time_s"] > 0 and r["gflops"] > 0 and r["max_rel_err"] < 1e-4
        assert r["workspace_bytes"] >= 0 and r["speedup_vs_direct"] > 0
    assert rec["auto_pick"] in rec["algos"]


def test_algorithms_that_cannot_run_a_case_are_left_out(capsys):
    assert bench.main(["--layer", "alexnet-conv3", "--layer", "lenet-conv2", "--quick", "--no-torch",
                       "--min-time", "0.01", "--algos", "im2col,winograd"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith(("alex", "lenet"))}
    assert "winograd" not in rows["lenet-conv2"].split()[3:6] and rows["lenet-conv2"].split()[4] == "-"
    assert rows["alexnet-conv3"].split()[4] != "-"


def test_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "sweep.png"
    rc = bench.main(["--sweep", "kernel", "--quick", "--no-torch", "--algos", "direct,fft,winograd", "--plot",
                     str(png)])  # winograd runs none of the quick sweep's sizes (1, 5, 11)
    assert rc == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ops_table(capsys):
    rc = bench.main(["--layer", "lenet-conv2", "--quick", "--no-torch", "--ops", "--algos", "direct"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "memory bandwidth" in text and "max_pool2d 3x3 s2" in text and "local_contrast_norm" in text


def test_backward_and_train_tables(tmp_path, capsys):
    out = tmp_path / "bw.json"
    rc = bench.main(["--layer", "odd-prime-s2", "--quick", "--no-torch", "--backward", "--train", "--algos",
                     "im2col,fft", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "conv2d_backward" in text and "odd-prime-s2" in text and "max_pool2d 2x2 s2" in text
    assert "lenet5 train step" in text
    data = json.loads(out.read_text())
    (rec,) = data["backward_records"]
    assert set(rec["algos"]) == {"im2col", "fft"} and rec["max_rel_err"] < 1e-4
    assert all(t["input_time_s"] > 0 and t["weight_time_s"] > 0 for t in rec["algos"].values())
    assert set(rec["auto_pick"]) == {"input", "weight"} and rec["auto_time_s"] > 0
    assert len(data["op_backward_records"]) == 6 and data["train_records"][0]["time_s"] > 0


def test_backward_table_shows_winograds_data_gradient_alone(capsys):
    rc = bench.main(["--layer", "alexnet-conv3", "--quick", "--no-torch", "--backward", "--min-time", "0.01",
                     "--algos", "im2col,winograd"])
    assert rc == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("alexnet-conv3"))
    im2col, winograd = line.split()[2:4]
    assert "-" not in im2col and winograd.endswith("+-") and float(winograd.split("+")[0]) > 0


def test_auto_regret_figure():
    records = [{"auto_pick": "direct", "algos": {"direct": {"time_s": 1.0}, "fft": {"time_s": 0.95}}},
               {"auto_pick": "fft", "algos": {"direct": {"time_s": 1.0}, "fft": {"time_s": 3.0}}}]
    within, worst = bench.auto_regret(records)
    assert within == 0.5 and worst == 3.0


def test_interleaved_times_visits_each_fn_every_round():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = bench.interleaved_times(fns, min_time=0.0, rounds=3, settle=0.0)
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())
    # per round and fn: one settling call, then one timed call (min_time 0)
    assert calls == ["a", "a", "b", "b"] * 3


@pytest.mark.parametrize("argv", [["--algos", "gemm"], ["--threads", "0"], ["--device", "cuda"],
                                  ["--min-time", "0"], ["--min-time", "nan"]])
def test_bad_options_are_refused(argv):
    assert bench.main(argv + ["--quick", "--no-torch"]) == 2


def test_command_line_entry_points():
    run = lambda *a: subprocess.run([sys.executable, "-m", "cnnkernels", *a], capture_output=True, text=True)
    assert run("bench", "--help").returncode == 0
    bad = run("frobnicate")
    assert bad.returncode == 2 and "unknown command" in bad.stderr


@pytest.mark.parametrize("device", ["cuda", "cuda-emu", "tpu"])
def test_unavailable_device_is_refused_with_the_backends_reason(device, capsys):
    import cnnkernels
    if device in cnnkernels.available_backends():
        pytest.skip(f"backend {device!r} is available in this build")
    assert bench.main(["--device", device, "--quick", "--no-torch"]) == 2
    err = capsys.readouterr().err
    assert f"--device {device}" in err and "backend" in err


def test_device_run_on_the_emulator(tmp_path, capsys):
    # `--device cuda-emu`: the device benchmark's code (bench/device.py) on the emulator, a smoke run.
    out = tmp_path / "d.json"
    assert bench.main(["--device", "cuda-emu", "--quick", "--min-time", "0.001", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "emulated" in text and "direct" in text and "im2col" in text and "local_contrast_norm" in text
    data = json.loads(out.read_text())
    convs = [r for r in data["records"] if "algo" in r]
    assert convs and all(r["time_s"] > 0 and r["max_rel_err"] < 1e-4 for r in convs)
    assert data["device"]["emulated"] is True


def test_device_peaks_from_properties():
    from cnnkernels.bench.device import device_peaks
    h100 = {"emulated": False, "compute_capability": (9, 0), "multiprocessors": 132, "clock_khz": 1_980_000,
            "memory_clock_khz": 2_619_000, "memory_bus_width": 5120}
    flops, gbs = device_peaks(h100, "float32")
    assert 66_000 < flops < 67_500 and 3300 < gbs < 3400  # 2 x 128 lanes x 132 SMs x 1.98 GHz; HBM3
    assert device_peaks(h100, "float64")[0] == flops / 2
    assert device_peaks({"emulated": True}, "float32") == (None, None)

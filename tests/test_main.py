import re

from sklstm.__main__ import main


def test_demo_trains_and_reports(capsys):
    main(["--random-state", "0"])
    out = capsys.readouterr().out
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy >= 0.95
    assert re.search(r"fit time: [0-9.]+ s", out)
    # Why training stopped, and which epoch's weights it keeps.
    assert re.search(r"Training (stopped at epoch \d+: |ran max_iter).* keeps the weights", out)
    assert re.search(r"model: .*, \d+ threads?\n", out)
    assert "python -m sklstm --random-state 0" in out


def test_demo_plots_the_loss_curve(tmp_path, capsys):
    path = tmp_path / "loss.png"
    main(["--plot", str(path)])
    assert path.stat().st_size > 5_000
    assert f"--plot {path}" in capsys.readouterr().out


def test_demo_says_when_matplotlib_is_missing(monkeypatch, capsys):
    import sys

    import pytest

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SystemExit) as exit_info:
        main(["--plot", "loss.png"])
    assert exit_info.value.code == 2
    assert "--plot needs matplotlib: pip install matplotlib" in capsys.readouterr().err


def test_demo_help_is_plain_text(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "Japanese Vowels" in out and "`" not in out

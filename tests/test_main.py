import re

from sklstm.__main__ import main


def test_demo_trains_and_reports(capsys):
    main(["--random-state", "0"])
    out = capsys.readouterr().out
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy >= 0.95
    assert re.search(r"fit time: [0-9.]+ s", out)
    assert "python -m sklstm --random-state 0" in out

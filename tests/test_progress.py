"""Progress bars: redrawn in place on a terminal, a few plain lines anywhere else."""

from __future__ import annotations

import io

from tfprobe.progress import ProgressBar


def test_plain_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    bar = ProgressBar(200, unit="stimuli", stream=stream)
    assert not bar.interactive
    for done in range(1, 201):
        bar.update(done, loss=0.25)
    bar.close()
    text = stream.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert 2 <= len(lines) <= 11  # one per tenth of the total at most
    assert lines[-1].startswith("200/200 stimuli") and "100%" in lines[-1] and "loss 0.25" in lines[-1]


def test_redrawn_in_place_on_a_terminal() -> None:
    stream = io.StringIO()
    bar = ProgressBar(3, unit="batches", stream=stream, interactive=True)
    bar.redraw_seconds = 0.0
    for done in (1, 2, 3):
        bar.update(done)
    text = stream.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n") and "\x1b" not in text  # 3 updates + the closing draw
    assert "3/3 batches" in text


def test_unknown_total_and_disabled_bars() -> None:
    stream = io.StringIO()
    bar = ProgressBar(None, unit="batches", stream=stream)
    for done in range(1, 6):
        bar.update(done)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("1 batches") and lines[-1].startswith("5 batches") and "/" not in lines[-1].split()[0]
    quiet = io.StringIO()
    silent = ProgressBar(10, stream=quiet, enabled=False)
    silent.update(10)
    silent.close()
    assert quiet.getvalue() == ""

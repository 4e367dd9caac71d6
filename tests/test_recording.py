"""--record-dir: what the recognizer decided on is kept, and `assistant recognize DIR` scores it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.audio import WavSource, read_wav
from assistant.cli import main
from assistant.commands import Grammar
from assistant.errors import UsageError
from assistant.listening import SphinxRecognizer, recognize_blocks
from assistant.recording import HeardRecorder
from tests.speech import write_wav
from tests.voices import DevVoice, dev_clip

pytestmark = pytest.mark.slow

JOE = DevVoice("piper", "joe", "report")


def _session_audio(folder: Path, speech_dir: Path) -> Path:
    """A person says "pause", the coach's sentence is heard, then "next step"."""
    parts = [dev_clip(text, JOE, speech_dir)
             for text in ("pause", "Slide your heel towards your buttocks along the floor.", "next step")]
    samples = np.concatenate([read_wav(p.path)[1] for p in parts])
    return write_wav(folder / "session.wav", samples)


def test_every_decision_is_kept_with_its_audio_and_why(english: Grammar, tmp_path: Path, speech_dir: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Obeyed commands and rejected talk each get a WAV and a line; labelled, the folder is scored."""
    recorder = HeardRecorder(tmp_path / "heard", coach_speaking=lambda: False)
    recognizer = SphinxRecognizer(english)
    recognizer.on_decision = recorder
    heard = recognize_blocks(recognizer, WavSource(_session_audio(tmp_path, speech_dir)).blocks())
    recorder.close()
    lines = [json.loads(line) for line in (tmp_path / "heard" / "heard.jsonl").read_text().splitlines()]
    assert [c.intent.value for c in heard] == ["pause", "next"]
    assert [line["intent"] for line in lines if line["accepted"]] == ["pause", "next"]
    assert len(lines) >= 3, "the sentence was decided on too"
    rejected = [line for line in lines if not line["accepted"]]
    assert all(line["reason"] and line["intent"] is None for line in rejected), rejected
    for line in lines:
        assert WavSource(tmp_path / "heard" / line["file"]).duration_s == pytest.approx(
            line["end_s"] - line["start_s"], abs=0.05)
        assert line["coach_speaking"] is False and line["expected"] is None

    labelled = [{**line, "expected": line["intent"] or "nothing"} for line in lines]
    (tmp_path / "heard" / "heard.jsonl").write_text("".join(json.dumps(line) + "\n" for line in labelled))
    assert main(["recognize", str(tmp_path / "heard"), "--engine", "pocketsphinx"]) == 0
    err = capsys.readouterr().err
    assert "Scored: 2 of 2 commands heard right (100%); 0 commands heard in" in err, err


def test_a_folder_that_cannot_be_written_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UsageError, match=r"--record-dir .*a-file: cannot write there"):
        HeardRecorder(tmp_path / "a-file")


def test_recognize_on_a_folder_without_an_index_says_what_it_needs(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recognize", str(tmp_path), "--engine", "pocketsphinx"]) == 2
    assert "has no heard.jsonl or manifest.jsonl" in capsys.readouterr().err

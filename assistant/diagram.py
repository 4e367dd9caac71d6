"""A picture of the session machine, drawn by transitions' Graphviz support."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.errors import UsageError
from assistant.session import TRANSITIONS, SessionState

_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot"}


def _drawn_rules() -> list[dict[str, Any]]:
    """The rules that change state; in-place answers (help, repeat...) would only add clutter."""
    seen: set[tuple[str, str, str]] = set()
    rules = []
    for rule in TRANSITIONS:
        if rule["dest"] is None:
            continue
        sources = rule["source"] if isinstance(rule["source"], list) else [rule["source"]]
        for source in sources:
            key = (rule["trigger"], source.name, rule["dest"].name)
            if key in seen:
                continue
            seen.add(key)
            drawn = {k: v for k, v in rule.items() if k in ("trigger", "dest", "conditions", "unless")}
            rules.append({**drawn, "source": source})
    return rules


def draw_session_diagram(out: Path) -> None:
    """Write the state diagram to `out` (.svg, .png, .pdf or .dot)."""
    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UsageError("usage", f"--out must end in .svg, .png, .pdf or .dot, not '{out.name}'.")
    try:
        from transitions.extensions import GraphMachine
    except ImportError as err:  # pragma: no cover - transitions ships the module
        raise UsageError("diagram-missing", f"transitions' diagram support is missing ({err}).") \
            from err
    try:
        import graphviz  # noqa: F401
    except ImportError as err:
        raise UsageError(
            "diagram-missing",
            "Drawing needs the graphviz Python package: pip install 'mat-coach[diagram]' "
            "(and the Graphviz program: sudo apt install graphviz).",
        ) from err

    class _Picture:
        pass

    machine = GraphMachine(
        model=_Picture(), states=SessionState, transitions=_drawn_rules(),
        initial=SessionState.IDLE, auto_transitions=False, show_conditions=True,
        title="Mat Coach session", graph_engine="graphviz",
    )
    graph = machine.get_graph()
    try:
        if fmt == "dot":
            out.write_text(graph.source, encoding="utf-8")
        else:
            graph.draw(str(out), format=fmt, prog="dot")
    except Exception as err:  # graphviz raises ExecutableNotFound, CalledProcessError, OSError
        if type(err).__name__ == "ExecutableNotFound":
            raise UsageError("diagram-missing", "The Graphviz program 'dot' is not installed; "
                             "install it with: sudo apt install graphviz") from err
        raise UsageError("diagram-write", f"Cannot write {out}: {err}.") from err

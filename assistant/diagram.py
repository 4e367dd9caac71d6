"""A picture of the session machine, drawn by transitions' Graphviz support."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.errors import UsageError
from assistant.session import ACTIVE_STATES, TRANSITIONS, SessionState

_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot"}


_ACTIVE = "ACTIVE"
_CONFIRM = "CONFIRMING STOP"
_AROUND = {"pause", "stop", "pain", "resume", "no", "yes", "device_lost", "device_back"}
"""Triggers that work the same from every active state: drawn once, from the ACTIVE cluster."""


def _name(state: SessionState) -> str:
    if state in ACTIVE_STATES:
        return f"{_ACTIVE}_{state.name}"
    return state.name.replace("_", " ")  # an underscore would nest it in the drawing


def _drawn_rules() -> list[dict[str, Any]]:
    """State-changing rules; pause, stop and pain are drawn once from the ACTIVE cluster."""
    rules: list[dict[str, Any]] = [
        {"trigger": "pause | pain | device_lost", "source": _ACTIVE, "dest": "PAUSED"},
        {"trigger": "resume | device_back (to where it was)", "source": "PAUSED", "dest": _ACTIVE},
        {"trigger": "stop", "source": _ACTIVE, "dest": _CONFIRM},
        {"trigger": "stop", "source": "PAUSED", "dest": _CONFIRM},
        {"trigger": "no | silence (to where it was)", "source": _CONFIRM, "dest": _ACTIVE},
        {"trigger": "no | silence (asked while paused)", "source": _CONFIRM, "dest": "PAUSED"},
        {"trigger": "pain", "source": _CONFIRM, "dest": "PAUSED"},
        {"trigger": "yes", "source": _CONFIRM, "dest": "FINISHED"},
    ]
    grouped: dict[tuple[str, str, str, str], list[str]] = {}
    for rule in TRANSITIONS:
        around = rule["trigger"] in _AROUND and rule["source"] is not SessionState.OFFERING_RESUME
        if rule["dest"] is None or around:
            continue
        if rule["source"] is SessionState.CONFIRMING_STOP:
            continue  # time_up while asking: drawn as "silence" above
        sources = rule["source"] if isinstance(rule["source"], list) else [rule["source"]]
        for source in sources:
            key = (_name(source), _name(rule["dest"]), rule.get("conditions", ""), rule.get("unless", ""))
            triggers = grouped.setdefault(key, [])
            if rule["trigger"] not in triggers:
                triggers.append(rule["trigger"])
    for (source, dest, conditions, unless), triggers in grouped.items():
        drawn: dict[str, Any] = {"trigger": " | ".join(triggers), "source": source, "dest": dest}
        if conditions:
            drawn["conditions"] = conditions
        if unless:
            drawn["unless"] = unless
        rules.append(drawn)
    return rules


def draw_session_diagram(out: Path) -> None:
    """Write the state diagram to `out` (.svg, .png, .pdf or .dot)."""
    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UsageError("usage", f"--out must end in .svg, .png, .pdf or .dot, not '{out.name}'.")
    try:
        from transitions.extensions import HierarchicalGraphMachine
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

    states: list[Any] = [
        "IDLE",
        {"name": _ACTIVE, "children": [s.name for s in ACTIVE_STATES], "initial": "OPENING"},
        "OFFERING RESUME", "PAUSED", _CONFIRM, "FINISHED",
    ]
    machine = HierarchicalGraphMachine(
        model=_Picture(), states=states, transitions=_drawn_rules(),
        initial="IDLE", auto_transitions=False, show_conditions=True,
        title="Mat Coach session (time_up: the clock ends the phase)", graph_engine="graphviz",
    )
    machine.machine_attributes["rankdir"] = "TB"
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

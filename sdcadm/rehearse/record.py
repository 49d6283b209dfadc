"""Where a rehearsal's report is kept, and how a later `update --plan` finds it.

The report goes to `<varDir>/rehearsals/<UTC stamp>-<key>.json`, and an entry marked as a
rehearsal (`command: rehearse`, `rehearsal: {...}`) to the local history directory: the
rehearsal sends nothing to the live datacenter, and the history's next SAPI write carries the
entry there with the real runs. A plan is matched by its key: the fingerprint of the
datacenter it was made from and what it changes (the same for `rehearse --all` and a later
`update --all --plan-out`, and for `rehearse --plan FILE` and `update --plan FILE`).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

REHEARSALS = "rehearsals"


def plan_key(plan_doc: Mapping[str, Any]) -> str:
    """The identity of a plan: the datacenter it was made from and its changes."""
    def change(c: Mapping[str, Any]) -> list[Any]:
        return [c.get("type"), (c.get("service") or {}).get("name"),
                (c.get("image") or {}).get("uuid"), c.get("platform"),
                sorted(str(i.get("instance")) for i in c.get("insts") or []),
                sorted(str(s) for s in c.get("servers") or [])]

    body = {"fingerprint": plan_doc.get("fingerprint"),
            "just_images": bool(plan_doc.get("justImages")),
            "changes": sorted((change(c) for c in plan_doc.get("changes") or []
                               if isinstance(c, Mapping)), key=json.dumps),
            "downloads": sorted(str((d or {}).get("uuid"))
                                for d in plan_doc.get("downloads") or [])}
    blob = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def _key_tag(key: Any) -> str:
    """The part of a plan key a report's file name carries."""
    return str(key).split(":")[-1][:12]


def report_path(var_dir: Path, report: Mapping[str, Any]) -> Path:
    """Where a report is kept: `<varDir>/rehearsals/<started>Z-<key tag>.json`."""
    stamp = str(report["started"]).replace("-", "").replace(":", "").split(".")[0]
    return Path(var_dir) / REHEARSALS / f"{stamp}Z-{_key_tag(report['key'])}.json"


def save(var_dir: Path, report: Mapping[str, Any]) -> Path:
    from sdcadm.private_files import make_dirs, open_private

    path = report_path(var_dir, report)
    make_dirs(path.parent)
    tmp = path.with_suffix(".tmp")
    with open_private(tmp, "w") as fh:
        fh.write(json.dumps(report, indent=2) + "\n")
    tmp.replace(path)
    return path


def history_entry(report: Mapping[str, Any], plan_doc: Mapping[str, Any]) -> dict[str, Any]:
    from sdcadm.executor.history import new_entry, to_ms

    changes = [{"type": "rehearse", "service": {"name": _change_name(c)}}
               for c in plan_doc.get("changes") or [] if isinstance(c, Mapping)]
    entry = new_entry(str(report["uuid"]), changes, started=to_ms(report["started"]),
                      command="rehearse", finished=to_ms(report["finished"]),
                      rehearsal={"key": report["key"], "fingerprint": report["fingerprint"],
                                 "status": report["status"], "result": summary(report),
                                 "report": report.get("path")})
    if report["status"] != "ok":
        entry["error"] = {"code": "RehearsalFailed", "message": summary(report)}
    return entry


def _change_name(c: Mapping[str, Any]) -> str:
    svc = c.get("service") or {}
    return str(svc.get("name") or c.get("platform") or c.get("type"))


def record(var_dir: Path, report: dict[str, Any], plan_doc: Mapping[str, Any]) -> Path:
    """Keep the report and its history entry (locally: see the module's note)."""
    from sdcadm.executor.history import HistoryStore

    report["path"] = str(report_path(var_dir, report))  # for the history entry to point at
    path = save(var_dir, report)
    HistoryStore(None, var_dir, warn=lambda _m: None).create(history_entry(report, plan_doc))
    return path


def find(var_dir: Path, key: str) -> dict[str, Any] | None:
    """The newest rehearsal of the plan with `key`."""
    root = Path(var_dir) / REHEARSALS
    if not root.is_dir():
        return None
    # Only the reports whose file name carries the key's tag are read (a tag shared by
    # another key is told apart by the key inside).
    for path in sorted(root.glob(f"*Z-{_key_tag(key)}.json"), reverse=True):
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(report, dict) and report.get("key") == key:
            return report
    return None


def summary(report: Mapping[str, Any]) -> str:
    """One line: how the rehearsal went."""
    from sdcadm.rehearse.report import duration

    failures = report.get("failures") or []
    resume = report.get("resume")
    losses = report.get("quorum_losses") or []
    if not failures:
        what = "succeeded"
    else:
        first = failures[0]
        fault = f" ({first['fault']})" if first.get("fault") else ""
        step = str(first.get("summary") or first["step"]).split(" (")[0]
        what = (f"{len(failures)} step(s) failed, first: {step}{fault}; "
                + ("update --resume converged" if resume and resume.get("converged")
                   else "update --resume did not converge"))
    predicted = (report.get("predicted") or {}).get("total_s")
    parts = [what]
    if predicted is not None:
        parts.append(f"predicted {duration(float(predicted))}")
    parts.append(f"{len(losses)} quorum loss(es)" if losses else "no quorum loss")
    return ", ".join(parts)


def mention(app: Any, plan: Any) -> None:
    """For `update --plan FILE`: one line saying how this plan's rehearsal went, if it had
    one. Never fails the update."""
    try:
        report = find(Path(app.config.var_dir), plan_key(plan.to_json()))
    except Exception:  # a note, not a step of the update
        return
    if report:
        when = str(report.get("started", ""))[:16].replace("T", " ")
        app.info(f"Rehearsed {when} UTC (sdcadm rehearse): {summary(report)}.")

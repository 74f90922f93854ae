"""A ValidationReport as one self-contained HTML page (no scripts, no external files)."""

from __future__ import annotations

import json
from html import escape

from validation.report import ExpectationOutcome, Severity, ValidationReport, json_safe

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
.verdict { padding: .6em 1em; border-radius: 6px; font-weight: 600; }
.passed { background: #e6f4ea; color: #1e7e34; } .failed { background: #fdecea; color: #b71c1c; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .35em .6em;
  border-bottom: 1px solid #ddd; vertical-align: top; } th { background: #f5f5f5; }
tr.critical td { background: #fdecea; } tr.warning td { background: #fff8e1; }
code { font-size: .92em; } .hint { color: #555; font-size: .92em; }
"""
_HEADER = ("check", "column", "severity", "result", "unexpected", "examples / observed", "expectation")


def render_html(report: ValidationReport) -> str:
    """The page: verdict and summary, what was skipped, then one table of expectations per data table."""
    verdict = "passed" if report.success else "failed"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>foryou validation — {escape(report.source)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Data-quality validation of <code>{escape(report.source)}</code></h1>",
        f"<p class='verdict {verdict}'>{escape(report.summary())}</p>",
        f"<p>Timestamps checked against now = <code>{escape(report.now.isoformat())}</code>. "
        "CRITICAL failures block a load and fail <code>foryou validate</code>; warnings never block.</p>",
    ]
    if report.skipped:
        items = "".join(f"<li>{escape(s)}</li>" for s in report.skipped)
        parts.append(f"<h2>Not checked</h2><ul>{items}</ul>")
    for table in dict.fromkeys(o.table for o in report.outcomes):
        rows = [o for o in report.outcomes if o.table == table]
        rows.sort(key=lambda o: (o.success, -o.severity.rank))
        count = report.row_counts.get(table)
        title = f"{table}" + (f" ({count:,} rows)" if count is not None else "")
        header = "".join(f"<th>{h}</th>" for h in _HEADER)
        parts.append(f"<h2>{escape(title)}</h2><table><tr>{header}</tr>")
        parts.extend(_row(o) for o in rows)
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _row(o: ExpectationOutcome) -> str:
    css = "" if o.success else o.severity.value
    result = "ok" if o.success else ("could not run" if o.error else "FAILED")
    unexpected = "" if o.unexpected_count is None else f"{o.unexpected_count:,}"
    if o.element_count:
        unexpected += f" of {o.element_count:,}"
    if o.error:
        seen = f"<code>{escape(o.error)}</code>"
    elif o.examples:
        seen = ", ".join(f"<code>{escape(json.dumps(json_safe(v), default=str))}</code>" for v in o.examples)
    else:
        seen = escape(o.observed or "")
    hint = f"<div class='hint'>{escape(o.hint)}</div>" if o.hint and not o.success else ""
    severity = o.severity.value.upper() if o.severity == Severity.CRITICAL else o.severity.value
    return (
        f"<tr class='{css}'><td>{escape(o.description)}{hint}</td><td>{escape(o.column or '')}</td>"
        f"<td>{severity}</td><td>{result}</td><td>{unexpected}</td><td>{seen}</td>"
        f"<td><code>{escape(o.expectation)}</code></td></tr>"
    )

"""The evaluation report: PNG plots and one HTML page beside them (FORYOU_HOME/reports/evaluation/)."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def recall_plot(recall: pd.DataFrame, out: Path) -> Path:
    """recall@K curves, one line per source (rows: source, columns: K)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for source, row in recall.iterrows():
        ks = [int(c) for c in row.index]
        ax.plot(ks, row.to_numpy(dtype=float), marker="o", label=str(source))
    ax.set_xscale("log")
    ax.set_xlabel("K (candidates per query)")
    ax.set_ylabel("recall@K")
    ax.set_title("Retrieval: recall@K on the holdout")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def bar_plot(values: pd.Series, title: str, ylabel: str, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar([str(i) for i in values.index], values.to_numpy(dtype=float), color="#4C72B0")
    for i, v in enumerate(values.to_numpy(dtype=float)):
        ax.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def reliability_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], out: Path) -> Path:
    """Predicted vs observed rate per head (equal-count bins); the diagonal is perfect calibration."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    top = 0.0
    for head, (predicted, observed) in curves.items():
        ax.plot(predicted, observed, marker=".", label=head)
        top = max(top, float(np.max(predicted, initial=0)), float(np.max(observed, initial=0)))
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed rate")
    ax.set_title("Re-ranker calibration per head")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_html(
    out: Path, title: str, notes: list[str], tables: dict[str, pd.DataFrame], images: list[Path]
) -> Path:
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:right}img{max-width:100%}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>",
    ]
    for name, table in tables.items():
        parts.append(f"<h2>{html.escape(name)}</h2>")
        parts.append(table.to_html(float_format=lambda v: f"{v:.4f}", na_rep="–"))
    for image in images:
        parts.append(f"<p><img src='{html.escape(image.name)}' alt='{html.escape(image.stem)}'></p>")
    parts.append("</body></html>")
    out.write_text("\n".join(parts))
    return out

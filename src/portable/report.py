"""Reports: one self-contained HTML file (inline SVG plots, no external resources) and a
Markdown summary, from verify, bench and benchmark-suite results (dicts or saved JSON).

Plots: a parity matrix (models x routes, coloured by status), an error histogram per route
(rows per ULP bin, against the reference evaluator) and a latency distribution per runtime
(log-scale histogram with p50 and p99 marks). Tables carry the numbers behind them.

Examples
--------
>>> from portable.report import write_report                       # doctest: +SKIP
>>> write_report([portable.verify(est)], "parity.html", "parity.md")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
from pathlib import Path

from .errors import InputError

COLORS = {"passed": "#2e7d32", "failed": "#c62828", "error": "#6a1b1b", "skipped": "#9e9e9e",
          "ok": "#2e7d32", "n/a": "#e0e0e0"}


# ----------------------------------------------------------------------------- JSON
def _clean(o):
    if isinstance(o, float):
        return o if math.isfinite(o) else ("nan" if o != o else ("inf" if o > 0 else "-inf"))
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if hasattr(o, "item") and not isinstance(o, (str, bytes)):
        return _clean(o.item())
    return o


def dumps(result) -> str:
    """Strict JSON (infinities and NaN as the strings "inf" / "nan"), sorted keys."""
    return json.dumps(_clean(result), indent=2, sort_keys=True, allow_nan=False, default=str)


def load_results(paths) -> list[dict]:
    """Read saved verify / bench / suite JSON files (a file may hold one result or a list)."""
    out = []
    for p in paths:
        try:
            data = json.loads(Path(p).read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"Cannot read results from {str(p)!r}: {e}") from None
        for r in data if isinstance(data, list) else [data]:
            if not isinstance(r, dict) or r.get("kind") not in ("verify", "bench", "suite"):
                raise InputError(f"{str(p)!r} holds no portable verify, bench or suite results "
                                 f"(write them with --json or benchmarks/run_all.py).")
            out.append(r)
    return out


def _num(v):
    if isinstance(v, str):
        return {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}.get(v, math.nan)
    return math.nan if v is None else float(v)


def _fmt(v, digits: int = 3) -> str:
    if v is None:
        return "-"
    x = _num(v)
    if x != x:
        return "-"
    if math.isinf(x):
        return "inf"
    if x == 0:
        return "0"
    if abs(x) >= 1e5 or abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def _entries(results) -> list[tuple[str, dict | None, dict | None, str | None]]:
    """(model name, verify result, bench result, note) for every model in ``results``."""
    if isinstance(results, dict):
        results = [results]
    rows: dict[str, list] = {}
    for r in results:
        if r.get("kind") == "suite":
            for m in r.get("models", []):
                e = rows.setdefault(m["name"], [m["name"], None, None, None])
                e[1] = m.get("verify") or e[1]
                e[2] = m.get("bench") or e[2]
                e[3] = m.get("note") or e[3]
        else:
            name = r.get("model", {}).get("name") or r.get("model", {}).get("estimator", "model")
            e = rows.setdefault(name, [name, None, None, None])
            e[1 if r["kind"] == "verify" else 2] = r
    return [tuple(v) for v in rows.values()]


# ----------------------------------------------------------------------------- summaries
def route_summary(route: dict) -> dict:
    """Worst figures of a route over row kinds: per stage max abs / rel / ULP, flips, rows."""
    out = {}
    for part in ("vs_reference", "vs_source"):
        for kind, stages in route.get("results", {}).get(part, {}).items():
            for stage, r in stages.items():
                s = out.setdefault(part, {}).setdefault(stage, {"rows": 0, "label_flips": 0})
                s["rows"] += r.get("rows", 0)
                s["label_flips"] += r.get("label_flips", 0) if stage == "label" else 0
                for k in ("max_abs", "max_rel", "max_ulp"):
                    if k in r:
                        s[k] = max(_num(s.get(k, 0.0)), _num(r[k]))
                s["mismatched_rows"] = s.get("mismatched_rows", 0) + r.get("mismatched_rows", 0)
    return out


def runners_in_order(bench: dict) -> list[tuple[str, dict]]:
    """Source first, then portable's routes, then peers (saved JSON sorts keys)."""
    rank = {"source": 0, "portable": 1, "peer": 2}
    return sorted(bench["runners"].items(), key=lambda kv: (rank.get(kv[1]["kind"], 3),
                                                             kv[1]["status"] != "ok", kv[0]))


def _hist(route: dict) -> list[int] | None:
    """Rows per ULP bin vs the reference, summed over row kinds (margin, else prediction)."""
    res = route.get("results", {}).get("vs_reference", {})
    for stage in ("margin", "prediction"):
        counts = None
        for stages in res.values():
            h = stages.get(stage, {}).get("histogram")
            if h:
                counts = h if counts is None else [a + b for a, b in zip(counts, h)]
        if counts:
            return counts
    return None


# ----------------------------------------------------------------------------- SVG
def _svg(w: float, h: float, body: list[str], cls: str, title: str) -> str:
    return (f'<svg class="plot {cls}" xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" '
            f'height="{h:.0f}" viewBox="0 0 {w:.0f} {h:.0f}" role="img" aria-label="'
            f'{html.escape(title)}"><title>{html.escape(title)}</title>{"".join(body)}</svg>')


def _text(x, y, s, *, anchor="start", size=11, color="#222", weight="normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{color}" font-weight="'
            f'{weight}" text-anchor="{anchor}" font-family="sans-serif">{html.escape(str(s))}'
            f'</text>')


def _cell_text(route: dict) -> str:
    st = route.get("status", "n/a")
    if st != "passed" and st != "failed":
        return st
    s = route_summary(route).get("vs_reference", {})
    flips = s.get("label", {}).get("label_flips", 0)
    stage = s.get("margin") or s.get("prediction") or {}
    ulp = _num(stage.get("max_ulp", math.nan))
    txt = f"{_fmt(ulp, 2)} ULP" if ulp == ulp else st
    return txt + (f", {flips} flips" if flips else "")


def parity_matrix_svg(entries) -> str:
    """Models x routes grid coloured by status, with the worst ULP (and flips) in each cell."""
    models = [e for e in entries if e[1]]
    routes = []
    for _, v, _, _ in models:
        for rid in v["routes"]:
            if rid not in routes:
                routes.append(rid)
    cw, ch, left, top = 118, 30, 170, 20 + 6 * max((len(r) for r in routes), default=10)
    w, h = left + cw * max(len(routes), 1) + 10, top + ch * (len(models) + 1) + 10
    body = []
    for j, rid in enumerate(["source"] + routes):
        x = left + cw * (j - 1) + cw / 2 if j else left - 60
        if j:
            body.append(f'<g transform="translate({x - 20:.1f},{top - 8}) rotate(-35)">'
                        f'{_text(0, 0, rid, size=10)}</g>')
    for i, (name, v, _, _) in enumerate(models):
        y = top + ch * i
        src = v.get("source", {}).get("status", "skipped")
        body.append(_text(8, y + ch / 2 + 4, name, size=11, weight="bold"))
        body.append(f'<circle cx="{left - 14}" cy="{y + ch / 2}" r="6" fill="'
                    f'{COLORS.get(src, "#999")}"><title>source library vs reference: {src}'
                    f'</title></circle>')
        for j, rid in enumerate(routes):
            r = v["routes"].get(rid, {"status": "n/a"})
            st = r.get("status", "n/a")
            x = left + cw * j
            tip = f"{name} / {rid}: {st}" + (f" - {r.get('reason')}" if r.get("reason") else "")
            body.append(f'<rect class="cell" data-status="{st}" x="{x + 1}" y="{y + 1}" '
                        f'width="{cw - 2}" height="{ch - 2}" rx="3" '
                        f'fill="{COLORS.get(st, "#ccc")}"><title>{html.escape(tip)}</title></rect>')
            body.append(_text(x + cw / 2, y + ch / 2 + 4, _cell_text(r), anchor="middle",
                              size=10, color="#fff" if st != "n/a" else "#555"))
    legend_y = top + ch * len(models) + 18
    for k, st in enumerate(("passed", "failed", "error", "skipped")):
        body.append(f'<rect x="{left + 90 * k}" y="{legend_y - 9}" width="10" height="10" '
                    f'fill="{COLORS[st]}"/>')
        body.append(_text(left + 90 * k + 14, legend_y, st, size=10))
    return _svg(w, h + 12, body, "parity-matrix", "Parity matrix: models x routes")


def error_hist_svg(title: str, counts: list[int], labels: list[str]) -> str:
    """Bars of rows per ULP bin (log scale), for one route."""
    w, h, left, bottom, top = 300, 150, 34, 36, 22
    n = len(counts)
    bw = (w - left - 8) / max(n, 1)
    peak = math.log10(max(max(counts, default=0), 1) + 1)
    body = [_text(w / 2, 14, title, anchor="middle", size=11, weight="bold")]
    for k, (c, lab) in enumerate(zip(counts, labels)):
        bh = (h - bottom - top) * (math.log10(c + 1) / peak if peak else 0)
        x = left + k * bw
        color = "#2e7d32" if k == 0 else ("#f9a825" if k <= 3 else "#c62828")
        body.append(f'<rect class="bar" data-count="{c}" x="{x + 2:.1f}" y="{h - bottom - bh:.1f}" '
                    f'width="{bw - 4:.1f}" height="{bh:.1f}" fill="{color}"><title>{lab} ULP: '
                    f'{c} rows</title></rect>')
        body.append(f'<g transform="translate({x + bw / 2:.1f},{h - bottom + 10}) rotate(35)">'
                    f'{_text(0, 0, lab, size=8)}</g>')
        if c:
            body.append(_text(x + bw / 2, h - bottom - bh - 2, c, anchor="middle", size=8))
    body.append(f'<line x1="{left}" y1="{h - bottom}" x2="{w - 6}" y2="{h - bottom}" '
                f'stroke="#444"/>')
    body.append(_text(4, top + 6, "rows", size=8))
    return _svg(w, h, body, "error-hist", f"ULP error histogram: {title}")


def latency_svg(bench: dict) -> str:
    """Per runner: log-scale histogram of single-row latency, p50 (black) and p99 (red)."""
    live = [(n, e) for n, e in runners_in_order(bench) if e.get("latency_us")]
    if not live:
        return ""
    lo = min(_num(e["latency_us"]["p1"]) for _, e in live)
    hi = max(_num(e["latency_us"]["p99"]) for _, e in live)
    lo, hi = math.floor(math.log10(max(lo, 1e-2))), math.ceil(math.log10(max(hi, lo * 10, 1e-1)))
    hi = max(hi, lo + 1)
    left, right, rh, top = 300, 20, 30, 26
    w = 860
    h = top + rh * len(live) + 30
    span = w - left - right

    def xof(us):
        return left + span * (math.log10(max(us, 10 ** lo)) - lo) / (hi - lo)

    body = [_text(left, 14, "single-row latency (µs, log scale); black: p50, red: p99", size=11)]
    for d in range(lo, hi + 1):
        x = xof(10 ** d)
        body.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{h - 26}" stroke="#ddd"/>')
        label = {0: "1 µs", 3: "1 ms", 6: "1 s"}.get(d, f"{10 ** d:g}".replace("1000", "1k"))
        body.append(_text(x, h - 12, label, anchor="middle", size=9))
    for i, (name, e) in enumerate(live):
        y0 = top + rh * i
        lat = e["latency_us"]
        body.append(_text(left - 6, y0 + rh / 2 + 4, name[:46], anchor="end", size=10,
                          color="#1565c0" if e["kind"] == "portable" else "#222",
                          weight="bold" if e["kind"] == "source" else "normal"))
        hist = lat.get("hist", {})
        counts = hist.get("counts", [])
        peak = max(counts, default=0)
        per = hist.get("per_decade", 10)
        for k, c in enumerate(counts):
            if not c:
                continue
            b = hist.get("first_bin", 0) + k
            a_us = 10 ** (hist.get("log10_start", -1) + b / per)
            z_us = 10 ** (hist.get("log10_start", -1) + (b + 1) / per)
            x1, x2 = xof(a_us), xof(z_us)
            bh = (rh - 8) * c / peak
            body.append(f'<rect class="lat" x="{x1:.1f}" y="{y0 + rh - 4 - bh:.1f}" width="'
                        f'{max(x2 - x1 - 0.5, 0.8):.1f}" height="{bh:.1f}" fill="#90caf9"/>')
        for q, color in (("p50", "#000"), ("p99", "#c62828")):
            x = xof(_num(lat[q]))
            body.append(f'<line class="{q}" x1="{x:.1f}" y1="{y0 + 3}" x2="{x:.1f}" y2="'
                        f'{y0 + rh - 3}" stroke="{color}" stroke-width="2"><title>{q} '
                        f'{_fmt(lat[q])} µs</title></line>')
    return _svg(w, h, body, "latency-dist", f"Latency distribution: {bench['model'].get('name')}")


# ----------------------------------------------------------------------------- tables
def _table(cls: str, head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _status(st: str) -> str:
    return f'<span class="st st-{html.escape(st)}">{html.escape(st)}</span>'


def verify_rows(v: dict) -> list[list[str]]:
    """Rows of the parity table (route, runtime, status, rows, stages..., seconds, note)."""
    rows = []
    for rid, r in v["routes"].items():
        summ = route_summary(r).get("vs_reference", {})
        src_summ = route_summary(r).get("vs_source", {})
        rows_c = sum(x.get("compared", 0) for x in r.get("rows", {}).values())
        rows_a = sum(x.get("available", 0) for x in r.get("rows", {}).values())
        cells = [html.escape(rid), html.escape(str(r.get("runtime") or "-")), _status(r["status"]),
                 f"{rows_c:,}/{rows_a:,}" if rows_a else "-"]
        for stage in ("margin", "prediction"):
            st = summ.get(stage)
            cells.append("-" if not st else
                         f"{_fmt(st.get('max_abs'))} / {_fmt(st.get('max_rel'))} / "
                         f"{_fmt(st.get('max_ulp'), 2)}")
        flips = summ.get("label", {}).get("label_flips")
        sflips = src_summ.get("label", {}).get("label_flips")
        cells.append("-" if flips is None else f"{flips} / {'-' if sflips is None else sflips}")
        cells.append(_fmt(r.get("seconds")))
        note = r.get("reason") or r.get("subsampled") or ""
        cells.append(html.escape(str(note))[:300])
        rows.append(cells)
    return rows


def bench_rows(b: dict) -> list[list[str]]:
    rows = []
    sizes = [str(s) for s in b["settings"]["sizes"]]
    for name, e in runners_in_order(b):
        if e["status"] != "ok":
            rows.append([html.escape(name), e["kind"], _status(e["status"])]
                        + ["-"] * (5 + len(sizes)) + [html.escape(str(e.get("reason", "")))[:200]])
            continue
        lat = e["latency_us"]
        ps = e.get("paired_speedup") or {}
        cells = [html.escape(name), e["kind"], _status("ok"),
                 f"{_fmt(lat['p50'])} / {_fmt(lat['p90'])} / {_fmt(lat['p99'])}",
                 f"{_fmt(ps.get('median'))}× [{_fmt(ps.get('p10'))}–{_fmt(ps.get('p90'))}]"
                 if ps else "-"]
        for sz in sizes:
            bt = e.get("batch", {}).get(sz, {})
            cells.append("skipped" if "skipped" in bt else "-" if not bt else
                         f"{_fmt(bt.get('rows_per_s'))} ({_fmt(bt.get('speedup'))}×)")
        cs = e.get("cold_start") or {}
        cells.append("error" if "error" in cs else
                     f"{_fmt(cs.get('wall_s'))} s / {_fmt(cs.get('load_to_first_prediction_s'))} s"
                     if cs else "-")
        cells.append("-" if not cs or "error" in cs else
                     f"{_fmt(cs.get('rss_delta_mb'))} (+{_fmt(cs.get('children_peak_rss_mb'))})")
        cells.append(_fmt(e.get("max_abs_vs_source")))
        cells.append(html.escape(str(cs.get("error", ""))) if cs else "")
        rows.append(cells)
    return rows


BENCH_HEAD = ["runner", "kind", "status", "1-row µs p50 / p90 / p99", "paired speedup vs source"]
BENCH_TAIL = ["cold start: wall / load→1st prediction", "RSS Δ MB (+children)",
              "max |Δ| vs source", "note"]
VERIFY_HEAD = ["route", "runtime", "status", "rows compared", "margin: abs / rel / ULP",
               "prediction: abs / rel / ULP", "flips vs ref / source", "seconds", "note"]


# ----------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}
h3{font-size:15px}table{border-collapse:collapse;margin:8px 0 16px;font-size:12px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f5f5f5}.st{padding:1px 5px;border-radius:3px;color:#fff;font-size:11px}
.st-passed,.st-ok{background:#2e7d32}.st-failed{background:#c62828}.st-error{background:#6a1b1b}
.st-skipped{background:#9e9e9e}.grid{display:flex;flex-wrap:wrap;gap:8px}
.meta{color:#666;font-size:12px}code{font-size:12px}
"""

_SCRIPT = """
document.querySelectorAll('svg.plot').forEach(function (s) {
  var b = s.getBBox();
  s.setAttribute('data-rendered', Math.round(b.width) + 'x' + Math.round(b.height));
});
document.body.setAttribute('data-plots', document.querySelectorAll('svg.plot').length);
"""


def _verify_section(v: dict) -> list[str]:
    from .verify import hist_labels

    src = v.get("source", {})
    counts = ", ".join(f"{n:,} {k.replace('_', '-')}" for k, n in v["rows"].items())
    parts = [f"<h3>Parity: {'passed' if v['passed'] else 'FAILED'} ({counts} rows; "
             f"{_fmt(v.get('seconds'))} s)</h3>",
             f"<p>source library vs reference evaluator: "
             f"{_status(src.get('status', 'skipped'))} {html.escape(src.get('reason', ''))}</p>",
             _table("routes", VERIFY_HEAD, verify_rows(v))]
    divs = [(rid, d) for rid, r in v["routes"].items() for d in r.get("divergences", [])]
    if divs:
        parts.append("<h3>Divergences</h3><ul class='divergences'>" + "".join(
            f"<li><b>{html.escape(rid)}</b> ({html.escape(d.get('kind', ''))} row): "
            f"{html.escape(d['message'])}</li>" for rid, d in divs) + "</ul>")
    hists = [(rid, h) for rid, h in ((rid, _hist(r)) for rid, r in v["routes"].items()) if h]
    if hists:
        labels = v.get("settings", {}).get("histogram_bins") or hist_labels()
        parts.append("<h3>Error histograms (rows per ULP bin vs reference)</h3>"
                     "<div class='grid'>" + "".join(error_hist_svg(rid, h, labels)
                                                    for rid, h in hists) + "</div>")
    return parts


def _bench_section(b: dict) -> list[str]:
    sizes = [str(s) for s in b["settings"]["sizes"]]
    head = BENCH_HEAD + [f"batch {int(s):,} rows/s (× source)" for s in sizes] + BENCH_TAIL
    env = html.escape(json.dumps(_clean(b.get("environment", {})), sort_keys=True))
    return [f"<h3>Performance (reference: {html.escape(str(b.get('reference')))}; "
            f"{_fmt(b.get('seconds'))} s)</h3>",
            _table("bench", head, bench_rows(b)), latency_svg(b), f"<p class='meta'>{env}</p>"]


def render_html(results, *, title: str = "portable: parity and performance report") -> str:
    """One self-contained HTML page for verify / bench / suite results."""
    entries = _entries(results)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"<h1>{html.escape(title)}</h1><p class='meta'>generated {now}</p>"]
    if any(v for _, v, _, _ in entries):
        parts.append("<h2 id='parity'>Parity matrix</h2>" + parity_matrix_svg(entries))
    for n, _, _, note in entries:
        if note:
            parts.append(f"<p class='note'><b>{html.escape(n)}</b>: {html.escape(note)}</p>")
    for name, v, b, _ in entries:
        if not (v or b):
            continue
        m = (v or b)["model"]
        trees = f", {m['trees']} trees, depth {m.get('max_depth')}" if m.get("trees") else ""
        parts.append(f"<h2 id='model-{html.escape(name)}'>{html.escape(name)}</h2>"
                     f"<p class='meta'>{html.escape(str(m.get('estimator')))} "
                     f"({html.escape(str(m.get('task')))}), {m.get('n_features')} features"
                     f"{trees}</p>")
        parts += (_verify_section(v) if v else []) + (_bench_section(b) if b else [])
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(parts) + f"<script>{_SCRIPT}</script></body></html>\n")


# ----------------------------------------------------------------------------- Markdown
def render_markdown(results, *, title: str = "portable: parity and performance") -> str:
    """A Markdown summary: the parity matrix and one performance table per model."""
    entries = _entries(results)
    out = [f"# {title}", ""]
    verified = [e for e in entries if e[1]]
    if verified:
        routes = []
        for _, v, _, _ in verified:
            routes += [r for r in v["routes"] if r not in routes]
        out += ["## Parity (worst ULP vs the reference; flips)", "",
                "| model | source | " + " | ".join(routes) + " |",
                "|---" * (len(routes) + 2) + "|"]
        for name, v, _, _ in verified:
            cells = [_cell_text(v["routes"][r]) if r in v["routes"] else "n/a" for r in routes]
            out.append(f"| {name} | {v.get('source', {}).get('status', '-')} | "
                       + " | ".join(cells) + " |")
        out.append("")
    for name, _, _, note in entries:
        if note:
            out.append(f"- **{name}**: {note}")
    for name, v, b, _ in entries:
        if not b:
            continue
        sizes = [str(s) for s in b["settings"]["sizes"]]
        out += ["", f"## {name}: performance (reference {b.get('reference')})", "",
                "| runner | p50 µs | p99 µs | speedup (paired) | "
                + " | ".join(f"{int(s):,} rows/s" for s in sizes)
                + " | cold start s | RSS Δ MB |", "|---" * (6 + len(sizes)) + "|"]
        for rn, e in runners_in_order(b):
            if e["status"] != "ok":
                continue
            lat, cs = e["latency_us"], e.get("cold_start") or {}
            bt = [e.get("batch", {}).get(s, {}) for s in sizes]
            out.append(f"| {rn} | {_fmt(lat['p50'])} | {_fmt(lat['p99'])} | "
                       f"{_fmt((e.get('paired_speedup') or {}).get('median'))}× | "
                       + " | ".join("skipped" if "skipped" in x else _fmt(x.get("rows_per_s"))
                                    for x in bt)
                       + f" | {_fmt(cs.get('wall_s'))} | {_fmt(cs.get('rss_delta_mb'))} |")
        skipped = [f"{rn} ({e.get('reason', e['status'])})" for rn, e in b["runners"].items()
                   if e["status"] != "ok"]
        if skipped:
            out += ["", "Not run: " + "; ".join(skipped)]
    return "\n".join(out) + "\n"


def write_report(results, html_path=None, md_path=None) -> list[Path]:
    """Write the HTML and/or Markdown report; returns the paths written."""
    written = []
    if html_path:
        p = Path(html_path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(render_html(results), encoding="utf-8")
        written.append(p)
    if md_path:
        p = Path(md_path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(render_markdown(results), encoding="utf-8")
        written.append(p)
    return written

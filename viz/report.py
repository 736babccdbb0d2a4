"""One self-contained HTML page per dump (or per folder of dumps): the graph's SVG (zoomable,
searchable, each kernel's cluster a link to its source), a table of its kernels (shapes,
choices, time, GB/s, GFLOP/s, built or cached, why their outputs are stored), and each
kernel's generated source with the nodes it computes and its fusion decisions in words."""
from __future__ import annotations

import html
import json
from pathlib import Path

STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em; }
.graph { overflow: auto; max-height: 70vh; border: 1px solid #ccc; }
.graph svg { transform-origin: 0 0; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f6f6; padding: 0.6em; overflow: auto; }
.kernel:target { outline: 3px solid #f0a030; }
.tools input, .tools button { margin: 0.5em 0.3em 0.5em 0; }
"""

SCRIPT = """
function search(section, text) {
  for (const g of section.querySelectorAll('.graph g.node')) {
    const hit = text && g.textContent.toLowerCase().includes(text.toLowerCase());
    g.style.opacity = (!text || hit) ? 1 : 0.25;
  }
}
function zoom(section, factor) {
  const svg = section.querySelector('.graph svg');
  if (!svg) return;
  const scale = factor === 0 ? 1 : (parseFloat(svg.dataset.scale || '1') * factor);
  svg.dataset.scale = scale;
  svg.style.transform = 'scale(' + scale + ')';
}
document.addEventListener('wheel', function (e) {
  const graph = e.target.closest && e.target.closest('.graph');
  if (graph && e.ctrlKey) { e.preventDefault(); zoom(graph.parentElement, e.deltaY < 0 ? 1.2 : 1 / 1.2); }
}, {passive: false});
"""


def write_report(dump: Path, output: Path) -> Path:
    """Write the report of `dump` (a .json file or a folder of them) to `output`."""
    files = sorted(dump.glob("*.json")) if dump.is_dir() else [dump]
    sections = "\n".join(_section(path) for path in files)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>lazytensor: {html.escape(dump.name)}</title>"
            f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>"
            f"<h1>lazytensor graph report</h1>{sections}</body></html>")
    output.write_text(page)
    return output


def _section(path: Path) -> str:
    data = json.loads(path.read_text())
    anchor = path.stem
    nodes = {n["id"]: n for n in data["nodes"]}
    kernels = data["kernels"]
    sources = data.get("sources", {})
    rows = "".join(_row(anchor, name, members, sources.get(name, {})) for name, members in kernels.items())
    table = ("<table><tr><th>kernel</th><th>outputs</th><th>inputs</th><th>nodes</th><th>choices</th>"
             "<th>time (us)</th><th>GB/s</th><th>GFLOP/s</th><th>code</th><th>stored because</th></tr>"
             f"{rows}</table>{_totals(kernels, sources)}")
    details = "".join(_kernel_source(anchor, name, members, sources.get(name, {}), nodes)
                      for name, members in kernels.items())
    return (f"<section><h2>{html.escape(anchor)}</h2>{_graph(path)}<h3>kernels</h3>{table}"
            f"{details}</section>")


def _graph(path: Path) -> str:
    svg_path = path.with_suffix(".svg")
    if not svg_path.exists():
        return ("<p>No SVG beside the dump: graphviz's <code>dot</code> is not installed "
                "(apt-get install graphviz, brew install graphviz). The DOT file is beside the JSON.</p>")
    svg = svg_path.read_text()
    svg = svg[svg.index("<svg"):]  # drop the XML prologue: the SVG is inlined
    tools = ("<div class='tools'><input placeholder='search nodes' "
             "oninput='search(this.closest(\"section\"), this.value)'>"
             "<button onclick='zoom(this.closest(\"section\"), 1.25)'>zoom in</button>"
             "<button onclick='zoom(this.closest(\"section\"), 0.8)'>zoom out</button>"
             "<button onclick='zoom(this.closest(\"section\"), 0)'>actual size</button>"
             " ctrl + wheel zooms; click a kernel's box to see its source</div>")
    return f"{tools}<div class='graph'>{svg}</div>"


def _rate(amount: float, seconds: float | None) -> str:
    return f"{amount / seconds / 1e9:.2f}" if seconds else "-"


def _row(anchor: str, name: str, members: list, info: dict) -> str:
    shapes = lambda key: ", ".join(f"{s} {d}" for s, d in info.get(key, []))  # noqa: E731
    opts = "; ".join(", ".join(k["opts"]) for k in info.get("kernels", [])) or "-"
    seconds = info.get("seconds")
    code = "-" if seconds is None else ("built" if info.get("built") else "cached")
    why = "; ".join(sorted(set(filter(None, info.get("why", []))))) or "-"
    cells = [f"<a href='#{html.escape(anchor)}-{html.escape(name)}'>{html.escape(name)}</a>",
             html.escape(shapes("outputs")), html.escape(shapes("inputs")), str(len(members)), html.escape(opts)]
    numbers = ["-" if seconds is None else f"{seconds * 1e6:.1f}", _rate(info.get("bytes", 0), seconds),
               _rate(info.get("flops", 0), seconds)]
    return ("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "".join(f"<td class='num'>{n}</td>" for n in numbers)
            + f"<td>{code}</td><td>{html.escape(why)}</td></tr>")


def _totals(kernels: dict, sources: dict) -> str:
    timed = [sources[k] for k in kernels if "seconds" in sources.get(k, {})]
    if not timed:
        return "<p>No times: the dump was written without running its kernels.</p>"
    total = sum(t["seconds"] for t in timed)
    built = sum(bool(t.get("built")) for t in timed)
    return (f"<p>{len(kernels)} kernels, {total * 1e3:.3f} ms on the device in all; {built} built for this run, "
            f"{len(timed) - built} found compiled. GFLOP/s counts one operation per element of each "
            f"elementwise op and reduction.</p>")


def _kernel_source(anchor: str, name: str, members: list, info: dict, nodes: dict) -> str:
    ops = ", ".join(sorted({f"{nodes[m]['op']} ({nodes[m]['site']})" for m in members if m in nodes}))
    code = "\n\n".join(k["source"] for k in info.get("kernels", [])) or "(no source recorded)"
    return (f"<div class='kernel' id='{html.escape(anchor)}-{html.escape(name)}'><h3>{html.escape(name)}</h3>"
            f"<p>nodes: {html.escape(ops)}</p>{_decisions(members, info, nodes)}<pre>{html.escape(code)}</pre></div>")


def _decisions(members: list, info: dict, nodes: dict) -> str:
    """The fusion decisions of one kernel, in words."""
    inside = [nodes[m] for m in members if m in nodes and not nodes[m].get("why")]
    moves = sum(n["op"] in ("reshape", "permute", "expand", "pad", "shrink", "flip") for n in inside)
    lines = [f"stored: {why}" for why in sorted(set(filter(None, info.get("why", []))))]
    lines.append(f"fused inside: {len(inside)} node(s) computed in registers, never stored"
                 + (f" ({moves} movement op(s) as index arithmetic)" if moves else ""))
    if info.get("joined"):
        lines.append(f"launched together with independent kernels: {info['joined']}")
    return "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"

"""One self-contained HTML page per dump (or per folder of dumps): the graph's SVG, a table
of its kernels, and each kernel's generated source with the nodes it computes."""
from __future__ import annotations

import html
import json
from pathlib import Path

STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em; }
.graph { overflow: auto; max-height: 70vh; border: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
pre { background: #f6f6f6; padding: 0.6em; overflow: auto; }
input { margin: 0.5em 0; }
"""

SEARCH = """
function search(text) {
  for (const g of document.querySelectorAll('.graph g.node')) {
    const hit = text && g.textContent.toLowerCase().includes(text.toLowerCase());
    g.style.opacity = (!text || hit) ? 1 : 0.25;
  }
}
"""


def write_report(dump: Path, output: Path) -> Path:
    """Write the report of `dump` (a .json file or a folder of them) to `output`."""
    files = sorted(dump.glob("*.json")) if dump.is_dir() else [dump]
    sections = "\n".join(_section(path) for path in files)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>lazytensor: {html.escape(dump.name)}</title>"
            f"<style>{STYLE}</style><script>{SEARCH}</script></head><body>"
            f"<h1>lazytensor graph report</h1>{sections}</body></html>")
    output.write_text(page)
    return output


def _section(path: Path) -> str:
    data = json.loads(path.read_text())
    svg_path = path.with_suffix(".svg")
    if svg_path.exists():
        svg = svg_path.read_text()
        svg = svg[svg.index("<svg"):]  # drop the XML prologue: the SVG is inlined
        graph = f"<input placeholder='search nodes' oninput='search(this.value)'><div class='graph'>{svg}</div>"
    else:
        graph = ("<p>No SVG beside the dump: graphviz's <code>dot</code> is not installed "
                 "(apt-get install graphviz, brew install graphviz). The DOT file is beside the JSON.</p>")
    nodes = {n["id"]: n for n in data["nodes"]}
    rows, sources = [], []
    for name, members in data["kernels"].items():
        info = data.get("sources", {}).get(name, {})
        shapes = lambda key: ", ".join(f"{s} {d}" for s, d in info.get(key, []))  # noqa: E731
        opts = "; ".join(", ".join(k["opts"]) for k in info.get("kernels", [])) or "-"
        rows.append(f"<tr><td><a href='#{html.escape(path.stem)}-{html.escape(name)}'>{html.escape(name)}</a></td>"
                    f"<td>{html.escape(shapes('outputs'))}</td><td>{html.escape(shapes('inputs'))}</td>"
                    f"<td>{len(members)}</td><td>{html.escape(opts)}</td></tr>")
        ops = ", ".join(sorted({f"{nodes[m]['op']} ({nodes[m]['site']})" for m in members if m in nodes}))
        code = "\n\n".join(k["source"] for k in info.get("kernels", [])) or "(no source recorded)"
        sources.append(f"<h3 id='{html.escape(path.stem)}-{html.escape(name)}'>{html.escape(name)}</h3>"
                       f"<p>nodes: {html.escape(ops)}</p><pre>{html.escape(code)}</pre>")
    table = ("<table><tr><th>kernel</th><th>outputs</th><th>inputs</th><th>nodes</th><th>choices</th></tr>"
             + "".join(rows) + "</table>")
    return (f"<section><h2>{html.escape(path.stem)}</h2>{graph}<h3>kernels</h3>{table}"
            f"{''.join(sources)}</section>")

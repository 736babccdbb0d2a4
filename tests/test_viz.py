"""Graph dumps: the lazy graph with sites, roles and kernel clusters, as networkx, JSON, DOT, SVG."""
import json
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import lazytensor as lt
import lazytensor.config as config

from helpers import cl_unavailable_reason, using


def mlp_step():
    lt.manual_seed(0)
    w1 = lt.randn(8, 16, requires_grad=True).realize()
    w2 = lt.randn(16, 4, requires_grad=True).realize()
    x = lt.randn(5, 8).realize()
    hidden = (x @ w1).relu()          # the site the forward nodes point at
    loss = (hidden @ w2).pow(2).mean()
    loss.backward()
    return [loss, w1.grad, w2.grad]


def test_to_networkx_labels_every_node():
    x = lt.randn(3, 4).realize()
    y = (x * 2 + 1).sum(1)
    g = lt.viz.to_networkx(y)
    ops = sorted(data["op"] for _, data in g.nodes(data=True))
    assert ops.count("buffer") == 1 and "reduce" in ops and "mul" in ops
    assert all({"op", "shape", "dtype", "site", "role", "kernel"} <= set(data) for _, data in g.nodes(data=True))
    buffer = next(n for n, d in g.nodes(data=True) if d["op"] == "buffer")
    assert g.nodes[buffer]["role"] == "buffer" and g.nodes[buffer]["kernel"] is None
    assert len({d["kernel"] for _, d in g.nodes(data=True) if d["op"] != "buffer"}) == 1  # one fused kernel


def test_a_dump_of_a_training_step_has_forward_backward_sites_and_kernels(tmp_path):
    written = lt.viz.dump(mlp_step, tmp_path / "step")
    data = json.loads(written["json"].read_text())
    nodes = {n["id"]: n for n in data["nodes"]}
    roles = {n["role"] for n in nodes.values()}
    assert roles == {"buffer", "forward", "backward"}
    assert sum(n["op"] == "buffer" for n in nodes.values()) == 3  # x, w1, w2
    sites = {n["site"].rsplit(":", 1)[0] for n in nodes.values() if n["role"] == "forward"}
    assert sites == {__file__}
    forward_matmuls = [n for n in nodes.values() if n["op"] == "reduce" and n["role"] == "forward"]
    assert forward_matmuls and all(n["kernel"] for n in forward_matmuls)
    assert len(data["kernels"]) >= 3 and all(members for members in data["kernels"].values())
    assert all(a in nodes and b in nodes for a, b in data["edges"])
    dot = written["dot"].read_text()
    assert dot.count("subgraph cluster_") == len(data["kernels"])


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_the_svg_is_written_and_parses():
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        written = lt.viz.dump(lambda: (lt.randn(4) * 2).sum(), f"{d}/g.dot")
        assert written["dot"].name == "g.dot" and written["json"].name == "g.json"
        assert ET.parse(written["svg"]).getroot().tag.endswith("svg")


def test_a_path_without_extension_gets_all_three(tmp_path):
    written = lt.viz.dump(lt.ones(3) + 1, tmp_path / "plain")
    assert written["dot"] == tmp_path / "plain.dot" and written["json"] == tmp_path / "plain.json"


def test_graph_env_dumps_every_realisation_numbered(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "GRAPH", str(tmp_path / "run.dot"))
    (lt.randn(3) + 1).realize()
    (lt.randn(3) * 5).sum().realize()
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert len(names) >= 2 and names[0].startswith("run-0") and all(n.startswith("run-") for n in names)


def test_graph_env_into_a_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "GRAPH", str(tmp_path) + "/")
    (lt.randn(2) - 1).realize()
    assert any(p.name.startswith("graph-") for p in tmp_path.glob("*.dot"))


def test_debug_context_prints_the_graph_at_level_four(capsys):
    x = lt.randn(3).realize()
    before = config.DEBUG
    with lt.debug(4):
        (x.exp() + 1).realize()
    err = capsys.readouterr().err
    assert "[lt] graph of" in err and "= exp" in err and "realize on" in err
    assert config.DEBUG == before  # restored


def test_stats_count_realisations_by_the_site_that_forced_them():
    x = lt.randn(4).realize()
    lt.reset_stats()
    for _ in range(3):
        (x * 2).sum().item()  # this line forces three realisations
    stats = lt.stats()
    here = [site for site in stats["realizations_by_site"] if site.startswith(__file__)]
    assert len(here) == 1 and stats["realizations_by_site"][here[0]] == 3
    assert stats.as_dict()["realizations"] == 3


def test_debug_one_hints_at_a_site_that_realises_in_a_loop(capsys):
    from lazytensor.runtime import engine
    x = lt.randn(2).realize()
    lt.reset_stats()
    with lt.debug(1):
        for _ in range(engine.HINT_AT[0]):
            (x + 1).sum().item()
    assert "hint:" in capsys.readouterr().err


def test_nancheck_names_the_op_and_line_of_a_planted_nan(monkeypatch):
    monkeypatch.setattr(config, "NANCHECK", True)
    x = lt.tensor([1.0, -1.0, 4.0])
    y = x * 2
    with pytest.raises(FloatingPointError, match=r"NANCHECK: log produced NaN .*test_viz\.py:\d+"):
        (y - 1).log()  # log of -3: the planted NaN
    assert np.isfinite((y + 3).log().numpy()).all()  # finite results pass


needs_cl = pytest.mark.skipif(cl_unavailable_reason() is not None, reason=str(cl_unavailable_reason()))


@needs_cl
def test_validate_agrees_with_numpy_on_a_training_step(monkeypatch):
    monkeypatch.setattr(config, "VALIDATE", True)
    with using("cl", True):
        loss, g1, g2 = mlp_step()
        assert np.isfinite(loss.item()) and np.isfinite(g1.numpy()).all()


@needs_cl
def test_validate_names_a_broken_kernel_and_its_line(monkeypatch):
    from lazytensor.codegen import render_opencl
    from lazytensor.runtime import engine
    from lazytensor.runtime.validate import ValidationError
    monkeypatch.setattr(config, "VALIDATE", True)
    monkeypatch.setitem(render_opencl.OPS, "exp", "(exp({0}) + 1)")  # test-only fault injection
    monkeypatch.setattr(engine, "_RENDERED", {})
    monkeypatch.setenv("LT_PLAN_CACHE", "0")  # rendered here, not read from a plan on disk
    with using("cl", True):
        x = lt.tensor([0.5, 1.5, 2.5]).realize()
        with pytest.raises(ValidationError, match=r"VALIDATE: kernel e_exp.*test_viz\.py:\d+"):
            x.exp().realize()  # the broken kernel


def test_the_report_shows_the_graph_the_kernels_and_their_source(tmp_path):
    import html.parser
    import subprocess
    import sys
    written = lt.viz.dump(mlp_step, tmp_path / "step")
    data = json.loads(written["json"].read_text())
    out = tmp_path / "report.html"
    subprocess.run([sys.executable, "-m", "viz", str(written["json"]), "-o", str(out)], check=True,
                   cwd=__file__.rsplit("/tests/", 1)[0])
    page = out.read_text()
    html.parser.HTMLParser().feed(page)  # well-formed enough to parse
    first = next(iter(data["sources"].values()))["kernels"][0]
    assert first["name"] in page and html_escape(first["source"].splitlines()[0]) in page
    assert all(name in page for name in data["kernels"])
    assert ("<svg" in page) == ("svg" in written)


def html_escape(text):
    import html
    return html.escape(text)


# ---- what the report says about each kernel ------------------------------------------------
def test_a_dump_times_each_kernel_and_tells_built_from_cached(tmp_path):
    first = json.loads(lt.viz.dump(mlp_step, tmp_path / "a")["json"].read_text())["sources"]
    again = json.loads(lt.viz.dump(mlp_step, tmp_path / "b")["json"].read_text())["sources"]
    assert first and all(k["seconds"] > 0 and k["bytes"] > 0 for k in first.values())
    assert all(k["flops"] > 0 for k in first.values())
    assert not any(k["built"] for k in again.values())  # the same program: every kernel found compiled


def test_a_dump_without_running_has_no_times_and_leaves_the_tensors_lazy(tmp_path):
    y = lt.randn(4, 4).realize() * 3
    sources = json.loads(lt.viz.dump(y, tmp_path / "lazy", run=False)["json"].read_text())["sources"]
    assert sources and not any("seconds" in k for k in sources.values())
    assert not y.node.realized


def test_the_graph_env_dump_carries_the_realisation_s_times(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "GRAPH", str(tmp_path) + "/")
    x = lt.randn(6, 5).realize()
    x.softmax(1).realize()
    (dump,) = [p for p in tmp_path.glob("*.json") if "softmax" in p.read_text() or "exp" in p.read_text()]
    assert all(k["seconds"] > 0 for k in json.loads(dump.read_text())["sources"].values())


def test_each_stored_node_says_why_in_words():
    x = lt.randn(4, 2048).realize()  # long rows: a softmax's reductions are stored even where rows fuse
    deep = x
    for _ in range(60):
        deep = deep * 1.01 + 0.5
    g = lt.viz.to_networkx([x.softmax(1), deep])
    why = [d["why"] for _, d in g.nodes(data=True) if d["why"]]
    assert any(w.startswith("asked for") for w in why)
    assert any(w.startswith("depth cap") for w in why)
    assert any(w.startswith("reduction boundary") or w.startswith("broadcast") for w in why)
    inlined = [d for _, d in g.nodes(data=True) if d["op"] == "mul" and d["why"] is None]
    assert inlined  # computed inside a kernel, never stored


def test_the_report_tells_fusion_decisions_and_links_each_cluster_to_its_source(tmp_path):
    written = lt.viz.dump(mlp_step, tmp_path / "step")
    out = _report(written["json"], tmp_path / "report.html")
    page = out.read_text()
    assert "stored: reduction boundary" in page and "fused inside:" in page
    assert "time (us)" in page and "GFLOP/s" in page and (">built<" in page or ">cached<" in page)
    kernel = next(iter(json.loads(written["json"].read_text())["kernels"]))
    assert f"id='step-{kernel}'" in page
    if "svg" in written:
        assert f'href="#step-{kernel}"' in page  # a click on the cluster shows the source


def _report(dump, out):
    import subprocess
    import sys
    subprocess.run([sys.executable, "-m", "viz", str(dump), "-o", str(out)], check=True,
                   cwd=__file__.rsplit("/tests/", 1)[0])
    return out


def _chromium():
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.skipif(_chromium() is None or shutil.which("dot") is None,
                    reason="needs a headless Chromium and graphviz (.ci/run installs both)")
def test_the_report_renders_in_a_real_browser(tmp_path):
    """Headless Chromium loads the page: the SVG graph and a kernel's source are in the
    rendered DOM, and a screenshot is saved."""
    import html
    import subprocess
    written = lt.viz.dump(mlp_step, tmp_path / "step")
    out = _report(written["json"], tmp_path / "report.html")
    browser = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"]
    dom = subprocess.run(browser + ["--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert "<svg" in dom and "class=\"graph\"" in dom
    first = next(iter(json.loads(written["json"].read_text())["sources"].values()))["kernels"][0]
    assert html.escape(first["source"].splitlines()[0], quote=False) in dom
    shot = tmp_path / "report.png"
    subprocess.run(browser + [f"--screenshot={shot}", out.as_uri()], capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


@pytest.mark.parametrize("jitted", [False, True], ids=["plain", "jit"])
def test_stats_count_the_bytes_kernels_move(jitted):
    x = lt.randn(1000).realize()
    fn = lt.jit(lambda t: (t * 2 + 1).exp()) if jitted else (lambda t: (t * 2 + 1).exp())
    for _ in range(3):
        lt.reset_stats()
        fn(x).realize()
    moved = lt.stats()["bytes_moved"]
    assert moved == 2 * 1000 * 4  # one fused kernel: reads x, writes the result

"""The live widgets in a real JupyterLab: headless Chromium opens a notebook (a chapter, or a
short notebook around one explorer), runs it, moves a slider and sees the plotly figure change,
with no request leaving 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlparse

import pytest
from conftest import CHROMIUM_ARGS
from test_book import BOOK, INJECT, _read

pytestmark = pytest.mark.browser
# notebook -> the plotly element that must change when the first slider moves
# (chapter 1's point explorer, ".shapelayer path", ran here too; it is dropped to keep the suite
# within its time budget: the browser-side machinery is the same for every explorer)
CASES = {
    "local_explorer": ".barlayer path",  # the local-bound explorer; the bars of fixed neurons
}
LOCAL_EXPLORER = [
    "import torch\nfrom torch import nn\nimport lipviz\nfrom lipviz.viz import widgets",
    "torch.manual_seed(0)\n"
    "net = nn.Sequential(nn.Linear(4, 32), lipviz.layers.ClippedReLU(32, 0.5), nn.Linear(32, 32),"
    " nn.ReLU(), nn.Linear(32, 3))\n"
    "x, y = torch.rand(40, 4), torch.randint(0, 3, (40,))",
    "explorer = widgets.LocalBoundExplorer(net, x, y, eps_values=(0.01, 0.1, 0.3, 1.0))\n"
    "widgets.show(explorer)",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=sorted(CASES))
def lab(request, tmp_path):
    """JupyterLab on 127.0.0.1 serving one notebook (a chapter with its smoke test parameters,
    or the explorer notebook) as .ipynb; yields ``(url, selector)``."""
    import nbformat
    import papermill as pm

    name = request.param
    if name in INJECT:
        src = tmp_path / "source.ipynb"
        nbformat.write(_read(BOOK / f"{name}.md"), src)
        pm.execute_notebook(
            str(src),
            str(tmp_path / f"{name}.ipynb"),
            parameters=INJECT[name],
            kernel_name="python3",
            prepare_only=True,
        )
        src.unlink()
    else:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in LOCAL_EXPLORER])
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("LIPVIZ_STATIC", "MPLBACKEND")}
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "config")  # no user settings, no news fetching
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        "--expose-app-in-browser",
        f"--ServerApp.root_dir={tmp_path}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start: " + (tmp_path / "lab.log").read_text()[-2000:])
        yield f"{base}/lab/tree/{name}.ipynb?token={token}", CASES[name]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_a_slider_moves_the_live_figure(lab, chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    url, selector = lab
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        def record(request):
            url = urlparse(request.url)
            if url.scheme not in ("data", "blob", "about") and url.hostname != "127.0.0.1":
                outside.append(request.url)

        page.on("request", record)
        page.goto(url)
        page.wait_for_function(
            "window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=60000
        )
        page.wait_for_function(
            "window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel?.status"
            " === 'idle'",
            timeout=60000,
        )
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        slider = page.locator(".widget-slider .noUi-handle").first
        slider.wait_for(timeout=240000)
        shape = page.locator(f".jp-OutputArea .js-plotly-plot {selector}").first
        shape.wait_for(timeout=60000)
        # every cell has run (no "[*]" prompt left) and the kernel is idle: the slider's
        # callbacks are wired before the mouse moves it
        page.wait_for_function(
            "!Array.from(document.querySelectorAll('.jp-InputPrompt'))"
            ".some(p => p.textContent.includes('*')) && window.jupyterapp.shell.currentWidget"
            ".sessionContext.session.kernel.status === 'idle'",
            timeout=120000,
        )
        # every matching path of the figure, joined (plotly may replace elements on redraw)
        paths_js = (
            f"Array.from(document.querySelectorAll('.jp-OutputArea .js-plotly-plot "
            f"{selector}')).map(e => e.getAttribute('d')).join('|')"
        )
        before = page.evaluate(paths_js)
        readout = page.locator(".widget-slider .widget-readout").first
        value = readout.inner_text()
        # move the slider until its value changes: a drag first, then the keyboard (a layout
        # shift between measuring the handle and pressing the mouse makes a drag miss it)
        for attempt in range(4):
            slider.scroll_into_view_if_needed()
            if attempt % 2 == 0:
                box = slider.bounding_box()
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                page.mouse.down()
                page.mouse.move(box["x"] + 60, box["y"] + box["height"] / 2, steps=5)
                page.mouse.up()
            else:
                slider.focus()
                for _ in range(10):
                    page.keyboard.press("ArrowRight")
            try:
                page.wait_for_function(
                    "([el, v]) => el.textContent !== v",
                    arg=[readout.element_handle(), value],
                    timeout=15000,
                )
                break
            except Exception:  # noqa: BLE001 - retried, then reported below
                continue
        page.screenshot(path=str(tmp_path / "lab.png"))
        moved = readout.inner_text()
        assert moved != value, f"the slider did not move ({value!r}); see {tmp_path / 'lab.png'}"
        try:
            page.wait_for_function(
                f"d => ({paths_js}) !== d",
                arg=before,
                timeout=120000,  # a condition, not a sleep: a loaded machine answers slowly
            )
        finally:
            page.screenshot(path=str(tmp_path / "lab.png"))
        after = page.evaluate(paths_js)
        browser.close()
    assert after != before
    assert not outside, f"requests left 127.0.0.1: {outside[:5]}"

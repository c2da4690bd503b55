"""Regenerate the docs' two pictures of the backprop explorer from the code, so that each
shows the page as it is now (its step count, its drawing, its panel). `make docs-images`
runs it.

- docs/img/explore.png (README, docs/seeing.md): `python -m tinygrad_tf explore --model`,
  opened at the residual add after the first decoder block's feed-forward sublayer;
- docs/img/explore_prediction.png (docs/seeing.md, "On a real prediction"): the explorer
  on the demo's trained translator (`translation.pretrained()`), the "wide" sentence,
  logit(動物) − logit(通り), opened at the step after the second decoder layer's
  cross-attention made its values (v_proj): the op written into the cross-attention box,
  the memory's gradient so far in the panel.

Headless Chromium (driven by Playwright) opens each page and takes the screenshot.

    PYTHONPATH=$PWD .venv/bin/python docs/gen_explore_png.py
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WIDE = "The animal didn't cross the street because it was too wide."

# each picture: its file, the explore command's arguments, and the step to open (a
# JavaScript expression over tgExplorer.steps, 1-based; below 1 means not found)
PICTURES = [
    ("explore.png", ["--model"],
     """steps.findIndex(s => s.op === "residual_add" && s.module === "decoder.layers.0") + 1"""),
    ("explore_prediction.png", ["--sentence", WIDE, "--token", "動物", "--versus", "通り"],
     """steps.findIndex(s => s.module === "decoder.layers.1.cross_attn.v_proj") + 2"""),
]


def screenshot(page_path, step_js, out):
    """Open the explorer page at the step `step_js` picks; save the screenshot to `out`."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"file://{page_path}")
        page.wait_for_function("window.tgExplorer !== undefined")
        step = page.evaluate(f"(steps => {step_js})(tgExplorer.steps)")
        if step < 1:
            raise SystemExit(f"gen_explore_png: {out}: no step matches {step_js}")
        page.evaluate(f"tgExplorer.goto({step})")
        page.wait_for_timeout(300)             # the graph pans to the step
        page.screenshot(path=out)
        total = page.evaluate("tgExplorer.steps.length")
        browser.close()
    return step, total


def main():
    from tinygrad_tf.demo import translation
    translation.pretrained()                          # the demo's trained model, trained once
    checkpoint = translation.pretrained_path()
    with tempfile.TemporaryDirectory() as folder:
        for name, args, step_js in PICTURES:
            page_path = os.path.join(folder, name.replace(".png", ".html"))
            if "--sentence" in args:
                args = args + ["--checkpoint", checkpoint]
            subprocess.run([sys.executable, "-m", "tinygrad_tf", "explore", "-o", page_path, *args],
                           check=True, stdout=subprocess.DEVNULL)
            out = os.path.join(HERE, "img", name)
            step, total = screenshot(page_path, step_js, out)
            print(f"wrote {out}: step {step} / {total}")


if __name__ == "__main__":
    main()

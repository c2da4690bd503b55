"""Regenerate docs/img/explore.png, the README's picture of the backprop explorer, from
the code: `python -m tinygrad_tf explore --model` writes the page, headless Chromium
(driven by Playwright) opens it at the residual add after the first decoder block's
feed-forward sublayer, and the screenshot replaces the old picture, so the picture
shows the page as it is now (its step count, its panel). `make docs-images` runs it.

    PYTHONPATH=$PWD .venv/bin/python docs/gen_explore_png.py [OUT.png]
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "img", "explore.png")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
MODULE = "decoder.layers.0"            # the residual add shown: the last one of this block


def main(out=OUT):
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as folder:
        page_path = os.path.join(folder, "explore.html")
        subprocess.run([sys.executable, "-m", "tinygrad_tf", "explore", "-o", page_path, "--model"],
                       check=True, stdout=subprocess.DEVNULL)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"file://{page_path}")
            page.wait_for_function("window.tgExplorer !== undefined")
            step = page.evaluate(f"""tgExplorer.steps.findIndex(
                s => s.op === "residual_add" && s.module === {MODULE!r}) + 1""")
            if step < 1:
                raise SystemExit(f"gen_explore_png: no residual_add in {MODULE} among the page's steps")
            page.evaluate(f"tgExplorer.goto({step})")
            page.wait_for_timeout(300)             # the graph pans to the step
            page.screenshot(path=out)
            total = page.evaluate("tgExplorer.steps.length")
            browser.close()
    print(f"wrote {out}: step {step} / {total}, the residual add after {MODULE}.ffn")


if __name__ == "__main__":
    main(*sys.argv[1:])

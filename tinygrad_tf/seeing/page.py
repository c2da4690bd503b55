"""The self-contained HTML pages of the tools for seeing (the backprop explorer, the
training page): a template beside the code with {{NAME}} slots, the data embedded as
JSON in `<script id="tg-data">`, the file's path returned as a `Page`, which Jupyter
shows inline."""
import html
import json
import os
import re
import tempfile
from importlib import resources


class Page(str):
    """The path of a written page: a str, usable wherever a path is. In Jupyter it
    displays the page itself, inline (`title` and `height` say how)."""
    title, height = "tinygrad_tf page", 760

    def _repr_html_(self):
        with open(self, encoding="utf-8") as f:
            page = f.read()
        return (f'<iframe srcdoc="{html.escape(page, quote=True)}" title="{self.title}" '
                f'style="width:100%; height:{self.height}px; border:1px solid #ccc"></iframe>')


def fill(template, parts, data):
    """The page `template` (a file beside this module) with each {{NAME}} replaced by
    parts[NAME] and {{DATA}} by `data` as JSON (safe inside a <script>)."""
    text = resources.files(__package__).joinpath(template).read_text(encoding="utf-8")
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    parts = {**parts, "DATA": blob}
    return re.sub(r"\{\{(" + "|".join(parts) + r")\}\}", lambda m: parts[m.group(1)], text)


def write(text, path, kind):
    """Write the page to `path` (None: a new temporary file named after `kind`); its path."""
    if path is None:
        fd, path = tempfile.mkstemp(prefix=f"tinygrad_tf-{kind}-", suffix=".html")
        os.close(fd)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return os.fspath(path)


def read_data(path):
    """The data embedded in a written page."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    blob = re.search(r'<script type="application/json" id="tg-data">(.*?)</script>', text, re.S)
    return json.loads(blob.group(1))

"""README's example runs as written, and its commands are the ones CI runs."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_readme_taste_runs(capsys):
    text = (ROOT / "README.md").read_text()
    code = re.search(r"## A taste\n\n```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["a"].grad == (1 - namespace["L"].data ** 2) * namespace["b"].data
    assert namespace["W"].grad.shape == (3, 5)
    assert "skip share" in capsys.readouterr().out


def test_readme_starts_with_the_two_commands_ci_runs():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```\n(.*?)```", text, re.S).group(1).splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_japanese_front_door_has_the_two_commands_and_every_notebook():
    text = (ROOT / "README.ja.md").read_text()
    first_block = re.search(r"```\n(.*?)```", text, re.S).group(1).splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == ["make demo", "make test"]
    linked = set(re.findall(r"\(notebooks/([\w.]+\.ipynb)\)", text))
    assert linked == {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    head = (ROOT / "README.md").read_text().splitlines()[:5]
    assert any("(README.ja.md)" in line for line in head)


def test_notebooks_open_with_a_japanese_summary_beside_the_english_title():
    import json
    for path in sorted((ROOT / "notebooks").glob("[01][0-9]_*.ipynb"))[:10]:
        first = "".join(json.loads(path.read_text())["cells"][0]["source"])
        title, _, rest = first.partition("\n")
        summary = [line for line in rest.strip("\n").split("\n\n")[0].splitlines() if line.startswith(">")]
        assert title.startswith("# ") and "この章の要点" in summary[0], path.name
        assert 3 <= len(summary) <= 6, (path.name, len(summary))
        assert "です" in "".join(summary) or "ます" in "".join(summary), path.name

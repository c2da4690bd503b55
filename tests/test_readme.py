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

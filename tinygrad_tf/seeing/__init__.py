"""The tools for seeing, floor 3: they read what the engine leaves behind (ops,
gradients, traces) and take arrays, token indices and labels, never a checkpoint or
a corpus.

    gradcheck.py   finite differences against backward (`tg.gradcheck`)
    selfcheck.py   every op and layer through gradcheck, as a table (`gradcheck` command)
    trace.py       `tg.trace()`: each chain-rule step of a backward
    graph.py       `draw_graph`: the graph as Graphviz (imports graphviz)
    explore.py     the page that steps through a traced backward (+ explore.html)
    watch.py       `tg.watch`: a training recorder, and the page to scrub through it (+ training.html)
    page.py        what both pages share: the template filled in, the file, the inline display
    viz.py         `tg.viz`: the face of the drawing tools, and gradient-flow plots
    attribute.py   `tg.attribute`: gradient, gradient × input, integrated gradients; rollout
"""

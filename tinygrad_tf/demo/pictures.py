"""The demo's grids of attention maps: one panel per layer (rows) and head (columns), one
colour scale for all (cross_attention.png, cat_self_attention.png)."""
import numpy as np


def attention_grid(layers, row_labels, col_labels, path, *, title, scale_label, threshold,
                   font=None, best=None):
    """Draw `layers` (a list of (heads, rows, cols) weight arrays) to `path`. Each panel
    writes its weights of at least `threshold`; `font` sets the row labels' family (a
    CJK font for Japanese); `best` = a head of the last layer, marked "← best"."""
    import matplotlib.pyplot as plt
    n_layers, n_heads = len(layers), layers[0].shape[0]
    fig, axes = plt.subplots(n_layers, n_heads, figsize=(3.0 * n_heads + 0.8, 2.9 * n_layers + 0.6),
                             squeeze=False, layout="constrained")
    for l, layer in enumerate(layers):
        for h in range(n_heads):
            ax = axes[l, h]
            image = ax.imshow(layer[h], vmin=0, vmax=1, cmap="Blues")
            for (i, j), w in np.ndenumerate(layer[h]):
                if w >= threshold:
                    ax.text(j, i, f"{w:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if w > 0.6 else "black")
            ax.set_xticks(range(len(col_labels)), col_labels, rotation=60, fontsize=8)
            ax.set_yticks(range(len(row_labels)), row_labels, fontsize=8, fontfamily=font or "sans-serif")
            mark = "  ← best" if (l, h) == (n_layers - 1, best) else ""
            ax.set_title(f"layer {l}, head {h}{mark}", fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.6, label=scale_label)
    fig.suptitle(title, fontsize=10, fontfamily=font or "sans-serif")
    fig.savefig(path, dpi=120)
    plt.close(fig)

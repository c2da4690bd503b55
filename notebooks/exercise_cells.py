"""Append the "Exercises" section to the end of notebooks 01-13 (or replace it, if there).

    python notebooks/exercise_cells.py            # every notebook that has exercises
    python notebooks/exercise_cells.py 03 07      # some of them

The cells it writes carry the tag "exercises" in their metadata; running it again first
removes the cells with that tag, so it can be rerun after a notebook changed (a code cell
whose source is unchanged keeps its outputs; a new or changed one is stored without). The
list of exercises, their stubs and graders are in tinygrad_tf/exercises (catalogue.py,
stubs.py); the prompts in Japanese and English are here.
"""
import inspect
import pathlib
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinygrad_tf.exercises import EXERCISES, stubs  # noqa: E402

TAG = "exercises"

INTRO = """## 演習 · Exercises

ここからは手を動かす番です。**予想してから確かめる**問題では、セルを実行する前に答えを
紙に書いてみてください（答えは折りたたんであります）。**自分で書く**問題では、関数の名前と
引数が決めてあります。スタブの `raise NotImplementedError(...)` をあなたのコードに書き換えて、
すぐ下のチェックのセルを実行してください。採点するのはエンジン自身です。float64 のランダムな
入力と、間違いが出やすい端のケース（エッジケース）であなたの関数を動かし、エンジン自身の
順伝播・逆伝播と比べます。違いがあれば、どのケースの、どの要素が、どれだけずれているかを
教えてくれます。

Your turn. In a **predict, then check** exercise, write your guess down before you run the cell
(the answer is folded away). In a **write it yourself** exercise the function's name and arguments
are fixed: replace the stub's `raise NotImplementedError(...)` with your code and run the check
cell under it. The engine grades it: it runs your function on random and edge-case inputs in
float64, compares it with its own forward and backward, and tells you which case, which element
and by how much, if anything differs.

*保存されたノートブックでは、スタブはまだ手つかずです。そのためチェックのセルは「not yet」
（まだです）と報告するだけで、ノートブックを止めることはありません。参考解答は
`tinygrad_tf/exercises/solutions/` にありますので、まず自分で解いてから見てください。
ターミナルからは `python -m tinygrad_tf check 名前 ファイル.py` で採点できます。*
*As stored, every stub is untouched, so each check cell reports "not yet" and the notebook runs
on. Reference solutions are in `tinygrad_tf/exercises/solutions/`: look after you have tried.
From a terminal: `python -m tinygrad_tf check NAME FILE.py`.*"""

SETUP = """import numpy as np

import tinygrad_tf as tg
from tinygrad_tf import nn
from tinygrad_tf.nn import functional as F"""

# a notebook whose own names must survive the setup cell (13 runs the lecture's code, in which
# torch, nn and F are tinygrad_tf.torch's: the exercises there call its model again)
SETUPS = {
    "13_lets_build_gpt": "import numpy as np\n\nimport tinygrad_tf as tg   # torch, nn and F stay the lecture's",
}

# name → (Japanese, English) prompt of a write-it-yourself exercise
WRITE = {
    "neuron_backward": (
        "このノートブックのニューロン $o = \\tanh(x_1 w_1 + x_2 w_2 + b)$ の5つの勾配を、普通の float だけで"
        "計算してください。まず $\\partial o/\\partial n = 1 - o^2$ を求め、それを各入力へ連鎖律で配ります。"
        "戻り値はタプル `(dx1, dw1, dx2, dw2, db)` です。",
        "The five gradients of this notebook's neuron, on plain floats: find $\\partial o/\\partial n = "
        "1 - o^2$ first, then hand it to each input by the chain rule. Return the tuple "
        "`(dx1, dw1, dx2, dw2, db)`."),
    "div_backward": (
        "割り算 `out = a / b` の局所的な逆伝播を書いてください。`g` は出力に届いた勾配 "
        "$\\partial L/\\partial \\mathrm{out}$ です。`(∂L/∂a, ∂L/∂b)` を返します。"
        "$a/b = a \\cdot b^{-1}$ と考えると分かりやすいでしょう。",
        "The local backward of a division `out = a / b`, where `g` is the gradient that arrived at "
        "the output, $\\partial L/\\partial \\mathrm{out}$. Return `(∂L/∂a, ∂L/∂b)`; think of "
        "$a/b$ as $a \\cdot b^{-1}$."),
    "shared_use_backward": (
        "上の「トポロジカル順序」の例です。$u = a b$, $L = u\\cdot u + u$ のとき、"
        "`(∂L/∂a, ∂L/∂b)` を返してください。$u$ は2回使われているので、両方の使い道から届く勾配を"
        "足し合わせることを忘れないでください。",
        "The example from \"Why topological order\": $u = ab$, $L = u\\cdot u + u$. Return "
        "`(∂L/∂a, ∂L/∂b)`. $u$ is used twice: add what both uses send back."),
    "matmul_backward": (
        "$C = AB$ の逆伝播です。`A` は (n, k)、`B` は (k, m)、`G` は $\\partial L/\\partial C$ で (n, m) "
        "です。`(∂L/∂A, ∂L/∂B)` を返してください。それぞれの勾配は、その入力と同じ形になります。",
        "The backward of $C = AB$: `A` is (n, k), `B` is (k, m), `G` = $\\partial L/\\partial C$ is "
        "(n, m). Return `(∂L/∂A, ∂L/∂B)`; each has its own input's shape."),
    "unbroadcast": (
        "形 `shape` の入力がブロードキャストされて `grad.shape` になりました。`grad` はその結果に"
        "届いた勾配です。入力の勾配を、ちょうど `shape` の形で返してください。入力になかった先頭の"
        "軸と、入力で大きさ 1 だった軸について和をとります。",
        "An input of shape `shape` was broadcast to `grad.shape`, and `grad` is the gradient at the "
        "result. Return the input's gradient, of exactly `shape`: sum over the leading axes the "
        "input did not have and over the axes where it had size 1."),
    "linear_backward": (
        "全結合層 $y = x W^\\top + b$ の逆伝播です。`x` は (..., in)、`W` は PyTorch と同じ (out, in)、"
        "`g` は $\\partial L/\\partial y$ です。`(dx, dW, db)` を返してください。バッチ (B, T, in) の"
        "ときは、`dW` と `db` はすべての位置について和をとります。",
        "The backward of a linear layer $y = xW^\\top + b$: `x` is (..., in), `W` is (out, in) as in "
        "PyTorch, `g` = $\\partial L/\\partial y$. Return `(dx, dW, db)`; for a batch (B, T, in), "
        "`dW` and `db` sum over every position."),
    "softmax_backward": (
        "最後の軸についての softmax $y = \\mathrm{softmax}(x)$ の逆伝播です。`x` ではなく `y` と "
        "$g = \\partial L/\\partial y$ が与えられます。$\\partial L/\\partial x$ を返してください。",
        "The backward of $y = \\mathrm{softmax}(x)$ over the last axis. You are given `y` (not `x`) "
        "and $g = \\partial L/\\partial y$; return $\\partial L/\\partial x$."),
    "attention_backward": (
        "1つのヘッドのアテンション $\\mathrm{out} = \\mathrm{softmax}(q k^\\top/\\sqrt{d})\\,v$ の逆伝播です"
        "（マスクなし）。`g` = ∂L/∂out から `(dq, dk, dv)` を返してください。先頭にバッチの軸が"
        "付いていても動くように書きましょう。先ほどの `softmax_backward` が使えます。",
        "The backward of one attention head, $\\mathrm{out} = \\mathrm{softmax}(qk^\\top/\\sqrt{d})\\,v$ "
        "(no mask): from `g` = ∂L/∂out return `(dq, dk, dv)`. Make it work with leading batch axes "
        "too; your `softmax_backward` helps."),
    "memory_backward": (
        "クロスアテンションでは、エンコーダの出力 `memory` がキーの射影 $k = \\mathrm{memory}\\,W_k^\\top$ と"
        "値の射影 $v = \\mathrm{memory}\\,W_v^\\top$ の2か所で使われます。`dk` と `dv` が与えられたとき、"
        "$\\partial L/\\partial \\mathrm{memory}$ を返してください。",
        "In cross-attention the encoder's output `memory` is used twice: by the key projection "
        "$k = \\mathrm{memory}\\,W_k^\\top$ and the value projection $v = \\mathrm{memory}\\,W_v^\\top$. "
        "Given `dk` and `dv`, return $\\partial L/\\partial \\mathrm{memory}$."),
    "cross_attention": (
        "1つのヘッドのクロスアテンションの順伝播を NumPy で書いてください。クエリは `x` から、"
        "キーと値は `memory` から作ります。スケールは $1/\\sqrt{d_k}$（$d_k$ = `Wq.shape[0]`）です。",
        "The forward of one cross-attention head, in NumPy: queries from `x`, keys and values from "
        "`memory`, scaled by $1/\\sqrt{d_k}$ with $d_k$ = `Wq.shape[0]`."),
    "causal_mask": (
        "因果マスクを作ってください。形は (q_len, k_len) の真偽値の配列で、クエリ $i$ がキー $j$ を"
        "見てよい（$j \\le i$）ところが True です。",
        "Make the causal mask: a boolean array (q_len, k_len), True where query $i$ may see key $j$ "
        "($j \\le i$)."),
    "padding_mask": (
        "トークン ID の配列 (batch, seq) から、パディングマスク (batch, 1, 1, seq) を作ってください。"
        "パディングでないトークンが True です。間の2つの軸は、ヘッドとクエリについてブロードキャスト"
        "するためのものです。",
        "From token ids (batch, seq), make the padding mask (batch, 1, 1, seq), True where the token "
        "is not `pad_id`. The two middle axes broadcast over heads and queries."),
    "masked_attention_backward": (
        "マスク付きアテンションの逆伝播です。`mask` は真偽値（True = 見てよい）で、(..., q_len, k_len) に"
        "ブロードキャストできます。見てよいキーが1つもないクエリの行は、重みがすべて 0 になります"
        "（NaN にはなりません）。`(dq, dk, dv)` を返してください。",
        "The backward of masked attention: `mask` is boolean (True = may attend) and broadcasts to "
        "(..., q_len, k_len); a query row with no allowed key gets all-zero weights (never NaN). "
        "Return `(dq, dk, dv)`."),
    "prenorm_block": (
        "今度は Tensor の関数です。`block` は post-LN で作られた `nn.EncoderBlock` です。その部品"
        "（`block.self_attn`, `block.norm1`, `block.ffn`, `block.norm2`）を使って、pre-LN の並べ方の"
        "出力を Tensor で返してください。採点では出力に加えて、`x` とすべてのパラメータの勾配も"
        "エンジンの pre-LN ブロックと比べます。",
        "A Tensor function this time. `block` is an `nn.EncoderBlock` built post-LN; with its parts "
        "(`block.self_attn`, `block.norm1`, `block.ffn`, `block.norm2`) return the output of the "
        "pre-LN arrangement, as a Tensor. The grader compares the output and the gradients of `x` "
        "and of every parameter with the engine's pre-LN block."),
    "residual_stack_backward": (
        "残差のスタック $h_{l+1} = h_l + \\tanh(h_l W_l^\\top + b_l)$ を、`h0` から順に通します。"
        "最後の $h$ に届いた勾配 `g` から、$\\partial L/\\partial h_0$ を返してください。"
        "各層は、スキップ経路でそのまま渡す分と、枝を通って戻る分の和を下へ送ります。",
        "A residual stack $h_{l+1} = h_l + \\tanh(h_l W_l^\\top + b_l)$ from `h0`. Given `g` at the "
        "last $h$, return $\\partial L/\\partial h_0$: each layer sends down what the skip passes on "
        "unchanged plus what comes back through its branch."),
    "layernorm_forward": (
        "最後の軸についての LayerNorm を NumPy で書いてください。分散は $n-1$ ではなく $n$ で割り"
        "（不偏分散ではありません）、$\\varepsilon$ は平方根の**中**に入れます："
        "$(x - \\mu)/\\sqrt{\\sigma^2 + \\varepsilon}\\cdot w + b$。",
        "LayerNorm over the last axis, in NumPy: the variance divides by $n$ (biased), and "
        "$\\varepsilon$ goes **inside** the root: $(x - \\mu)/\\sqrt{\\sigma^2 + \\varepsilon}\\cdot w + b$."),
    "layernorm_backward": (
        "LayerNorm の逆伝播です。`g` = ∂L/∂y から `(dx, dw, db)` を返してください。上の Jacobian の"
        "式が手がかりになります。`dw` と `db` は、すべての位置について和をとります。",
        "The backward of LayerNorm: from `g` = ∂L/∂y return `(dx, dw, db)`. The Jacobian above is "
        "your guide; `dw` and `db` sum over every position."),
    "batchnorm_forward": (
        "学習モードの BatchNorm1d の順伝播を、入力 (N, C) について NumPy で書いてください。"
        "各チャネルを、バッチ全体での平均と分散（$n$ で割るもの）で正規化します。",
        "BatchNorm1d in training mode on (N, C), in NumPy: each channel is normalised with the "
        "mean and (biased) variance over the batch."),
    "silu_backward": (
        "SiLU（Swish）$y = x\\,\\sigma(x)$ の逆伝播です。`g` = ∂L/∂y から ∂L/∂x を返してください。"
        "積の微分を使います。",
        "The backward of SiLU (Swish), $y = x\\,\\sigma(x)$: from `g` = ∂L/∂y return ∂L/∂x. "
        "Use the product rule."),
    "gelu_backward": (
        "正確な GELU $y = x\\,\\Phi(x)$（$\\Phi$ は標準正規分布の累積分布関数）の逆伝播です。"
        "$\\Phi$ には `scipy.special.ndtr` が使えます。",
        "The backward of the exact GELU, $y = x\\,\\Phi(x)$ with $\\Phi$ the standard normal CDF "
        "(`scipy.special.ndtr`)."),
    "ffn_backward": (
        "ReLU の FFN ブロック全体 $y = \\mathrm{relu}(x W_1^\\top + b_1) W_2^\\top + b_2$ の逆伝播です。"
        "5つの勾配 `(dx, dW1, db1, dW2, db2)` を返してください。`x` にはバッチの軸が付くことも"
        "あります。",
        "The backward of a whole ReLU FFN block, $y = \\mathrm{relu}(xW_1^\\top + b_1)W_2^\\top + b_2$: "
        "return the five gradients `(dx, dW1, db1, dW2, db2)`; `x` may have batch axes."),
    "cross_entropy_backward": (
        "平均の交差エントロピーの、ロジットについての勾配です。目標が `ignore_index` に等しい位置"
        "（パディング）は数えません。その位置の勾配は 0 で、平均も残りの位置だけでとります。",
        "The gradient of the mean cross-entropy with respect to the logits. Positions whose target "
        "equals `ignore_index` (padding) don't count: their gradient is 0, and the mean is over "
        "the others."),
    "sinusoidal_positions": (
        "2017年の論文の位置エンコーディング (max_len, d_model) を作ってください。偶数列が sin、"
        "奇数列が cos で、$d_{\\mathrm{model}}$ が奇数のときも動くようにします。",
        "The 2017 paper's position codes (max_len, d_model): sin in the even columns, cos in the "
        "odd ones; make it work for an odd $d_{\\mathrm{model}}$ too."),
    "encoder_block_backward": (
        "**誤差逆伝播の達人（backprop ninja）**：post-LN のエンコーダブロック1つ分の逆伝播を、"
        "すべて手で書きます。`params` はブロックのパラメータ名から配列への辞書です。同じキーに"
        "それぞれの勾配を入れ、さらに `\"x\"` に ∂L/∂x を入れた辞書を返してください。採点は"
        "パラメータごとにエンジンと比べます。これまでの演習の答えを部品として使いましょう。",
        "**The backprop ninja**: the whole backward of one post-LN encoder block, by hand. `params` "
        "maps the block's parameter names to arrays; return a dict with each parameter's gradient "
        "under the same key, plus `\"x\"` for ∂L/∂x. It is checked parameter by parameter against "
        "the engine; build it from your earlier answers."),
    "attention_from_torch": (
        "PyTorch の `nn.MultiheadAttention` は、q, k, v の3つの射影を1つの `in_proj_weight`（形 (3E, E)）に"
        "まとめて持っています。上で `interop.to_torch` がしたことの逆向きを、自分で書いてみましょう。"
        "`state` は PyTorch の state_dict を NumPy 配列にした辞書（`\"in_proj_weight\"`, `\"in_proj_bias\"`, "
        "`\"out_proj.weight\"`, `\"out_proj.bias\"`）です。このエンジンの `MultiHeadAttention` の state_dict、"
        "つまり `\"q_proj.weight\"`, `\"q_proj.bias\"`, …, `\"out_proj.bias\"` の8つのキーをもつ辞書を"
        "返してください。採点は `interop.from_torch` 自身の変換と比べて行います。",
        "PyTorch's `nn.MultiheadAttention` keeps the three projections q, k, v in one `in_proj_weight` of "
        "shape (3E, E). Write the reverse of what `interop.to_torch` did above: `state` is PyTorch's "
        "state_dict as NumPy arrays (`\"in_proj_weight\"`, `\"in_proj_bias\"`, `\"out_proj.weight\"`, "
        "`\"out_proj.bias\"`); return our `MultiHeadAttention`'s state_dict, a dict with the eight keys "
        "`\"q_proj.weight\"`, `\"q_proj.bias\"`, …, `\"out_proj.bias\"`. It is graded against "
        "`interop.from_torch`'s own conversion."),
    "cross_entropy_classes_axis1": (
        "上の学習ループでは、PyTorch の `cross_entropy` に渡す前に `logits.flatten(0, 1)` で (B, T, C) を "
        "(B·T, C) にしていました。PyTorch は3次元以上の入力ではクラスを**軸 1** に置く、と決めているからです"
        "（(N, C, d1, ...)）。一方、このエンジンの `F.cross_entropy` はクラスを最後の軸に置きます（意図して"
        "そうしている違いです）。PyTorch の並び方のまま交差エントロピーを計算する関数を書いてください。"
        "`targets` は整数のクラス番号で、形は (N, d1, ...) です。`ignore_index` に等しい位置は数えず、"
        "残りの位置で平均します（既定値は PyTorch と同じ -100 です）。",
        "The training loop above flattened (B, T, C) to (B·T, C) with `logits.flatten(0, 1)` before "
        "PyTorch's `cross_entropy`: for inputs of more than two dimensions PyTorch wants the classes on "
        "**axis 1**, (N, C, d1, ...), while this engine's `F.cross_entropy` takes them on the last axis "
        "(a difference on purpose). Write the loss in PyTorch's layout: `targets` are integer class ids "
        "of shape (N, d1, ...); positions equal to `ignore_index` (−100 by default, as in PyTorch) count "
        "for nothing, and the mean is over the others."),
    "gradient_times_input": (
        "この章の「勾配×入力」を自分で書いてみましょう。`x` は単語の埋め込み (..., T, d)、`g` はスコア（たとえば"
        "マージン m）の `x` についての勾配 $\\partial m/\\partial x$ で、`x` と同じ形です。単語ごとのスコア "
        "(..., T) を返してください。各単語の行で、特徴の軸について $x \\cdot \\partial m/\\partial x$ の和を"
        "とります（基準点はゼロの埋め込みです）。",
        "Write this notebook's gradient × input yourself. `x` holds the word embeddings (..., T, d) and "
        "`g` the gradient of a score (the margin m, say) with respect to them, $\\partial m/\\partial x$, "
        "of the same shape. Return one score per word, (..., T): the sum over each word's features of "
        "$x \\cdot \\partial m/\\partial x$ (the baseline is the zero embedding)."),
    "integrated_gradients": (
        "積分勾配を中点則で書いてください。`f_grad(point)` は、`x` と同じ形の1点で $\\partial f/\\partial x$ を"
        "返す関数です（中ではエンジンが逆伝播しています）。基準点 `baseline` から `x` へ向かう直線上の "
        "`steps` 個の点 $\\mathrm{baseline} + \\alpha_k (x - \\mathrm{baseline})$"
        "（$\\alpha_k = (k + \\tfrac12)/\\mathrm{steps}$）で勾配を平均し、$(x - \\mathrm{baseline})$ を"
        "掛けます。採点では、まずスコアの合計が刻みの誤差の範囲で "
        "$f(x) - f(\\mathrm{baseline})$ に一致するか（完全性）を確かめ、次に要素ごとにエンジンの "
        "`tg.attribute` と比べます。",
        "Integrated gradients by the midpoint rule. `f_grad(point)` returns $\\partial f/\\partial x$ at "
        "one point of `x`'s shape (the engine's backward computes it). Average the gradient at the `steps` "
        "points $\\mathrm{baseline} + \\alpha_k (x - \\mathrm{baseline})$, "
        "$\\alpha_k = (k + \\tfrac12)/\\mathrm{steps}$, of the straight path from `baseline` to `x`, "
        "and multiply by $(x - \\mathrm{baseline})$. The grader first checks completeness (your "
        "scores should add up to $f(x) - f(\\mathrm{baseline})$, to the step error), then compares each "
        "element with the engine's `tg.attribute`."),
    "adamw_step": (
        "この章の「更新量と重みの比」を決めているのは、オプティマイザの1ステップです。PyTorch と同じ定義の "
        "AdamW を1ステップ分書いてください。重みの減衰は勾配に混ぜず、先に重みそのものを "
        "$p \\leftarrow p\\,(1 - \\mathrm{lr}\\cdot\\mathrm{wd})$ と縮めます（分離した重み減衰）。"
        "そのあと1次と2次のモーメントを更新し、ゼロから始めたことによる偏りを $1-\\beta_1^t$ と "
        "$1-\\beta_2^t$ で補正します。$t$ は1から数えます。新しい `(p, m, v)` を返してください。採点では、"
        "エンジンの `tg.optim.AdamW` を何ステップか動かしたときの状態と比べます。",
        "What this notebook's update ratios measure is one optimizer step. Write one step of AdamW as "
        "PyTorch defines it: the weight decay does not enter the gradient; the weights themselves shrink "
        "first, $p \\leftarrow p\\,(1 - \\mathrm{lr}\\cdot\\mathrm{wd})$ (decoupled). Then update "
        "both moments and correct their start at zero by $1-\\beta_1^t$ and $1-\\beta_2^t$, with $t$ "
        "counted from 1. Return the new `(p, m, v)`. The grader compares them with the state of the "
        "engine's `tg.optim.AdamW` after several steps of a run."),
    "clip_grad_norm": (
        "勾配ノルムのクリッピングを、`torch.nn.utils.clip_grad_norm_` と同じように書いてください。すべての"
        "勾配を1本の長いベクトルとみなしたときの L2 ノルム（total）を求め、それが `max_norm` を超えていれば、"
        "すべての配列に同じ係数 `max_norm / (total + 1e-6)` を掛けます。配列は**その場で**（in place）"
        "書き換え、戻り値はクリッピング**前**のノルムです。",
        "Gradient-norm clipping as `torch.nn.utils.clip_grad_norm_` does it: the L2 norm of all the "
        "gradients taken as one long vector (total); if it is above `max_norm`, every array is multiplied "
        "by the same factor `max_norm / (total + 1e-6)`. Change the arrays **in place**, and return the "
        "norm **before** clipping."),
    "gpt_loss": (
        "講義の `forward` では、ロジットを `(B*T, C)` に、目標を `(B*T,)` に並べ直してから `F.cross_entropy` を"
        "呼んでいました。同じ損失を NumPy で書いてください。最後の軸について log-softmax をとり、目標の"
        "クラスの値を取り出して、B·T 個の位置すべての平均にマイナスを付けます。とても大きなロジットでも"
        "あふれないように、各行の最大値を引いてから exp をとりましょう。",
        "The lecture's `forward` reshapes the logits to `(B*T, C)` and the targets to `(B*T,)` before "
        "`F.cross_entropy`. Write the same loss in NumPy: log-softmax over the last axis, pick the target "
        "class's entry, and take minus the mean over all B·T positions. Subtract each row's maximum "
        "before `exp`, so that very large logits do not overflow."),
    "generate_greedy": (
        "講義の `generate` は、次のトークンを `torch.multinomial` で確率的に選びます。ここでは、いちばん確率の"
        "高いトークンを選ぶ貪欲法（greedy）で書いてください。各ステップで文脈を最後の `block_size` トークンに"
        "切り詰めて `logits_fn` に渡し、**最後の位置**のロジットの argmax を新しい列として `idx` に付け足します。"
        "位置の表は `block_size` 行しかないので、切り詰めないと `logits_fn` がエラーを出します。プロンプトと"
        "新しいトークンを合わせた (B, T0 + max_new_tokens) の配列を返してください。",
        "The lecture's `generate` samples the next token with `torch.multinomial`; write it greedy, the "
        "most probable token each time. At each step crop the context to its last `block_size` tokens, "
        "pass it to `logits_fn`, and append the argmax of the **last position's** logits to `idx` as a "
        "new column. The position table has only `block_size` rows, so without the crop `logits_fn` "
        "refuses. Return the prompt and the new tokens together, (B, T0 + max_new_tokens)."),
}

# name → (Japanese question, English question, code computing and folding the answer)
PREDICT = {
    "reuse_gradient": (
        "$a = 2$ のとき、$c = a\\cdot a\\cdot a$ と $d = a + a + a$ について、$\\partial c/\\partial a$ と "
        "$\\partial d/\\partial a$ はいくつでしょうか。$a$ は何回使われていて、それぞれの使い道から"
        "何が返ってくるかを考えてから、セルを実行してください。",
        "At $a = 2$, with $c = a\\cdot a\\cdot a$ and $d = a + a + a$: predict $\\partial c/\\partial a$ and "
        "$\\partial d/\\partial a$. How many times is $a$ used, and what does each use send back?",
        """a = tg.Value(2.0)
(a * a * a).backward()
a2 = tg.Value(2.0)
(a2 + a2 + a2).backward()
tg.exercises.reveal(f"∂c/∂a = {a.grad}: 3a² = 12, each of the three uses of a sends back the product "
                    f"of the other two, 4\\n∂d/∂a = {a2.grad}: each of the three uses sends back 1")"""),
    "bias_gradient": (
        "形 (2,) のバイアス `b` が、4行のバッチ `X @ W` (4, 2) にブロードキャストで足されます。"
        "$L = \\sum (XW + b)$ のとき、`b.grad` はどうなるでしょうか。",
        "A bias `b` of shape (2,) is broadcast over a batch `X @ W` of 4 rows, (4, 2). With "
        "$L = \\sum (XW + b)$, what is `b.grad`?",
        """X, W = tg.randn(4, 3, seed=0), tg.randn(3, 2, seed=1)
b = tg.zeros(2, requires_grad=True)
(X @ W + b).sum().backward()
tg.exercises.reveal(f"b.grad = {b.grad}: each of the 4 rows adds 1 to every entry of b "
                    "(the gradient is summed over the broadcast axis)")"""),
    "softmax_gradient_sum": (
        "softmax の入力についての勾配 $\\partial L/\\partial x$ を、各行で最後の軸について足すと"
        "いくつになるでしょうか。`g` がどんな値でも同じ答えになります。なぜでしょうか。",
        "Sum softmax's input gradient $\\partial L/\\partial x$ over the last axis of each row: what "
        "do you get? The answer is the same for any `g`. Why?",
        """x = tg.randn(3, 5, seed=0, dtype=np.float64, requires_grad=True)
x.softmax(-1).backward(np.random.default_rng(1).standard_normal((3, 5)))
tg.exercises.reveal(f"row sums of ∂L/∂x: {x.grad.sum(-1)}\\n0, up to rounding: adding a constant to a "
                    "row does not change its softmax, so no gradient can point along (1, 1, ..., 1). "
                    "That is why k_proj.bias gets (almost) no gradient.")"""),
    "padded_memory_gradient": (
        "ソース文の最後のトークンがパディングで、`memory_mask` がそれを隠しています。クロスアテンション"
        "の出力から計算した損失について、`memory` へ戻る勾配のうち、ちょうど 0 になる行はどれでしょうか。",
        "The source sentence's last token is padding, hidden by the `memory_mask`. Which rows of the "
        "gradient that flows back from the cross-attention's output to `memory` are exactly zero?",
        """nn.manual_seed(0)
cross = nn.MultiHeadAttention(8, 2)
x, memory = tg.randn(1, 3, 8, seed=0), tg.randn(1, 5, 8, seed=1, requires_grad=True)
source = np.array([[4, 9, 7, 2, 0]])                      # id 0 is padding
cross(x, context=memory, mask=F.padding_mask(source, 0)).sum().backward()
tg.exercises.reveal(f"largest |∂L/∂memory| in each source row: {np.abs(memory.grad[0]).max(-1)}\\n"
                    "row 4, the padding, is exactly 0: its attention weight is 0 for every query, so "
                    "neither its key nor its value sends anything back.")"""),
    "zero_branches": (
        "12層の残差スタックで、すべての枝の重みとバイアスが 0 だとします（枝の出力は 0）。出力に"
        "勾配 `g` が届いたとき、スタックの入力に届く勾配は何でしょうか。",
        "A 12-layer residual stack whose branches all have zero weights and biases (each branch "
        "outputs 0). With gradient `g` at the output, what reaches the stack's input?",
        """layers = [nn.Linear(4, 4) for _ in range(12)]
for layer in layers:
    layer.weight.data[:] = 0.0
    layer.bias.data[:] = 0.0
x = tg.randn(2, 4, seed=0, requires_grad=True)
h = x
for layer in layers:
    h = tg.residual(h, layer(h).tanh())
g = np.arange(8.0).reshape(2, 4)
h.backward(g)
tg.exercises.reveal(f"∂L/∂x =\\n{x.grad}\\nexactly g: every skip passes the gradient on unchanged, "
                    "and a branch with zero weights sends nothing back.")"""),
    "layernorm_shift": (
        "ノートの例 [0.1, 0.2, 150, 0.05] のすべての特徴に 100 を足してから LayerNorm を通すと、"
        "出力はどう変わるでしょうか。",
        "Add 100 to every feature of the notes' example [0.1, 0.2, 150, 0.05], then apply "
        "LayerNorm: how does the output change?",
        """ln = nn.LayerNorm(4).astype(np.float64)
x = np.array([[0.1, 0.2, 150.0, 0.05]])
y, y_shifted = ln(tg.tensor(x, dtype=np.float64)), ln(tg.tensor(x + 100, dtype=np.float64))
tg.exercises.reveal(f"LayerNorm(x)       = {y.data.round(4)}\\nLayerNorm(x + 100) = {y_shifted.data.round(4)}\\n"
                    f"largest difference: {np.abs(y.data - y_shifted.data).max():.1e}, only rounding: "
                    "the mean absorbs the shift, and the spread around it does not change.")"""),
    "dead_unit": (
        "FFN の隠れユニット 2 のバイアスを −100 にして、どのトークンでも ReLU に入る値が負になるように"
        "します。`up.weight` の勾配のうち、ユニット 2 の行はどうなるでしょうか。",
        "Set hidden unit 2's bias to −100, so its pre-activation is negative for every token. What "
        "is unit 2's row of the gradient of `up.weight`?",
        """nn.manual_seed(0)
ffn = nn.FeedForward(4, 6)
ffn.up.bias.data[2] = -100.0
ffn(tg.randn(8, 4, seed=0)).sum().backward()
tg.exercises.reveal(f"Σ|∂L/∂up.weight| row by row (one row per hidden unit): "
                    f"{np.abs(ffn.up.weight.grad).sum(1).round(3)}\\nrow 2 is exactly 0: ReLU passes "
                    "no gradient where its input is negative, so a unit that is negative for every "
                    "token does not learn at all (a dead unit).")"""),
    "sgd_first_order": (
        "学習率 lr の SGD で1ステップ進めると、損失はおよそどれだけ下がるでしょうか。勾配 "
        "$\\nabla L$ を使った式で、一次の近似として予想してください。",
        "One SGD step with learning rate lr: to first order, by how much does the loss fall? "
        "Predict a formula in the gradient $\\nabla L$.",
        """nn.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
x, y = tg.randn(16, 4, seed=0), np.random.default_rng(0).integers(0, 3, 16)
loss = F.cross_entropy(model(x), y)
loss.backward()
lr = 0.01
squared = sum(float((p.grad.astype(np.float64) ** 2).sum()) for p in model.parameters())
for p in model.parameters():
    p.data -= lr * p.grad
fall = loss.item() - F.cross_entropy(model(x), y).item()
tg.exercises.reveal(f"lr·‖∇L‖² = {lr * squared:.6f}\\nthe loss fell by {fall:.6f}\\n"
                    "L(θ - lr∇L) ≈ L(θ) - lr ∇L·∇L: a small step downhill lowers the loss by the "
                    "learning rate times the squared length of the gradient.")"""),
    "unflipped_mask": (
        "このエンジンのマスクは True が「見てよい」ですが、PyTorch の `nn.MultiheadAttention` の真偽値マスク "
        "`attn_mask` は True が「見てはいけない」です。そのため `interop` はマスクを反転してから渡しています。"
        "もし、このエンジンの因果マスク `np.tril(np.ones((4, 4), bool))` を反転せずにそのまま `attn_mask` に"
        "渡したら、どうなるでしょうか。クエリ 0 はどのキーを見るでしょうか。エラーは出るでしょうか。"
        "どこかに NaN は出るでしょうか。",
        "Our masks say True = may attend; the boolean `attn_mask` of PyTorch's `nn.MultiheadAttention` says "
        "True = may NOT, so `interop` flips every mask on the way. What if our causal mask "
        "`np.tril(np.ones((4, 4), bool))` went to `attn_mask` unflipped? Which keys does query 0 see? Is an "
        "error raised? Does a NaN appear anywhere?",
        """torch.manual_seed(0)
mha = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64)
x = torch.randn(1, 4, 8, dtype=torch.float64)
causal = np.tril(np.ones((4, 4), dtype=bool))                      # ours: True = may attend
with torch.no_grad():
    out, unflipped = mha(x, x, x, attn_mask=torch.from_numpy(causal))   # PyTorch reads True = may NOT
    _, flipped = mha(x, x, x, attn_mask=torch.from_numpy(~causal))      # as interop passes it
ours = interop.from_torch(mha)
ours(x.numpy(), mask=causal)
gap = np.abs(ours.attn[0].mean(axis=0) - flipped[0].numpy()).max()
tg.exercises.reveal(
    f"our causal mask (1 = may attend):\\n{causal.astype(int)}\\n"
    f"PyTorch's weights with it unflipped (the mean of the 2 heads):\\n{np.round(unflipped[0].numpy(), 3)}\\n"
    f"its output's last row: {np.round(out[0, -1].numpy(), 3)}\\n"
    f"flipped (~mask), as interop passes it:\\n{np.round(flipped[0].numpy(), 3)}\\n"
    f"our engine, given our mask as it is, gives the flipped weights (max difference {gap:.1e}).\\n"
    "Unflipped, PyTorch hides exactly what we allow: query 0 sees only the future (keys 1-3), each "
    "later query one key fewer, and the last query, allowed every key, has none left, so its softmax "
    "is NaN. No error is raised: the mask has the right shape and dtype, only its meaning is wrong.")"""),
    "dog_attribution": (
        "翻訳モデルは \"The dog sat on the mat.\" を「犬」から訳し始めます。その位置のマージン "
        "logit(犬) − logit(猫) を英語の各単語に割り当てるとき、勾配×入力と積分勾配のそれぞれで、"
        "いちばん大きなスコア（絶対値）をもらう単語はどれでしょうか。2つの方法の答えは一致するでしょうか。"
        "上の tanh(3x) の例を思い出してから予想してください。",
        "The translator starts \"The dog sat on the mat.\" with 犬. Split the margin "
        "logit(犬) − logit(猫) at that position among the English words: which word gets the largest score "
        "(by absolute value) from gradient × input, and which from integrated gradients? Do the two "
        "agree? Think of the tanh(3x) example above before you run the cell.",
        """ex = E.explain(model, data, "The dog sat on the mat.", token="犬", versus="猫")
top = lambda method: ", ".join(f"{w} {v:+.2f}" for w, v in ex.ranked(method)[:3])
dog = {m: float(ex.methods[m][ex.source.index("dog")]) for m in ("gradient_x_input", "integrated_gradients")}
tg.exercises.reveal(
    f"translation: {' '.join(ex.translation)}; margin logit(犬) − logit(猫) = {ex.margin:+.2f}\\n"
    f"gradient × input, top three by |score|: {top('gradient_x_input')}\\n"
    f"integrated gradients, top three:       {top('integrated_gradients')}\\n"
    f"“dog” gets {dog['gradient_x_input']:+.2f} from gradient × input and "
    f"{dog['integrated_gradients']:+.2f} from integrated gradients (whose scores add up to m − m(baseline), "
    f"completeness error {ex.completeness_error:.1e}).\\n"
    "Near the real embedding of “dog” the margin has saturated: the local slope there is small"
    + (" (here even of the wrong sign)" if dog["gradient_x_input"] < 0 else "")
    + ", so gradient × input sees little, while integrated gradients collect the slope along the "
    "whole path from the zero embedding, where the margin was made.")"""),
    "adam_first_step": (
        "AdamW の最初の1ステップ（weight_decay = 0, lr = 1e-3）で、6つの重みの勾配が 1e-6 から 1e3 まで"
        "大きく違うとします。それぞれの重みはどれだけ動くでしょうか。勾配が 10 億倍違えば、動く量も "
        "10 億倍違うでしょうか。",
        "The first AdamW step (weight_decay = 0, lr = 1e-3) on six weights whose gradients range from 1e-6 "
        "to 1e3: how far does each weight move? If one gradient is a billion times another, does its "
        "weight move a billion times as far?",
        """g = np.array([1e-6, -1e-4, 1e-2, 1.0, -30.0, 1e3])
w = tg.tensor(np.ones(6), dtype=np.float64, requires_grad=True)
w.grad = g.copy()
tg.optim.AdamW([w], lr=1e-3, weight_decay=0.0).step()
moved = w.data - 1.0
tg.exercises.reveal(
    f"gradient:       {g}\\nchange of w:    {moved}\\n|change| / lr:  {np.abs(moved) / 1e-3}\\n"
    "At step 1, m̂ = g and v̂ = g², so each weight moves by lr·g/(|g| + eps) ≈ lr·sign(g): the same "
    "distance whatever the gradient's size (only a gradient near eps = 1e-8 moves a little less). That "
    "is why the update ratios ‖Δw‖/‖w‖ of the first steps follow the learning rate and its warmup, "
    "not the gradient norms.")"""),
    "untrained_loss": (
        "学習前のモデルの損失はいくつになるでしょうか。上の学習の step 0 にも出ていますが、なぜその値になるのかを"
        "考えてください。また、`lm_head` の重みを標準偏差 0.02 ではなく 1 で初期化したら、損失はどうなる"
        "でしょうか。",
        "What is the loss of the model before training? Step 0 of the training above shows it, but why "
        "that number? And what would it be if `lm_head`'s weights were drawn with standard deviation 1 "
        "instead of 0.02?",
        """torch.manual_seed(0)
fresh = GPTLanguageModel()
X, Y = get_batch('val')
with torch.no_grad():
    logits, loss_init = fresh(X, Y)
    spread_init = logits.numpy().std()
    torch.nn.init.normal_(fresh.lm_head.weight, mean=0.0, std=1.0)
    logits, loss_std1 = fresh(X, Y)
    spread_std1 = logits.numpy().std()
tg.exercises.reveal(
    f"ln(vocab_size) = ln {vocab_size} = {np.log(vocab_size):.4f}\\n"
    f"untrained, lm_head std 0.02: loss {loss_init.item():.4f} (logits spread {spread_init:.3f})\\n"
    f"untrained, lm_head std 1:    loss {loss_std1.item():.4f} (logits spread {spread_std1:.2f})\\n"
    "With std 0.02 every logit is close to 0, the softmax is close to uniform, and the loss is "
    "-ln(1/vocab_size) = ln(vocab_size). With std 1 the logits spread widely: the untrained model is "
    "confidently wrong, its loss is far above ln(vocab_size), and training would first have to undo "
    "that.")"""),
}


def cells_for(notebook):
    """The Exercises section of one notebook (its stem, e.g. '03_self_attention')."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [md(INTRO), code(SETUPS.get(notebook, SETUP))]
    number = notebook.split("_")[0].lstrip("0")
    for i, e in enumerate((e for e in EXERCISES.values() if e.notebook == notebook), 1):
        title = f"### 演習 {number}.{i} · Exercise {number}.{i}"
        if e.kind == "write":
            ja, en = WRITE[e.name]
            cells.append(md(f"{title} — 自分で書く · write it yourself: `{e.signature}`\n\n{ja}\n\n{en}"))
            cells.append(code(inspect.getsource(getattr(stubs, e.name)).rstrip()))
            cells.append(code(f'tg.exercises.check("{e.name}", {e.name})'))
        else:
            ja, en, answer = PREDICT[e.name]
            cells.append(md(f"{title} — 予想してから確かめる · predict, then check\n\n{ja}\n\n{en}"))
            cells.append(code(answer))
    for i, cell in enumerate(cells):
        cell.metadata["tags"] = [TAG]
        cell.id = f"exercises-{number}-{i}"          # the same ids on every run: small diffs
    return cells


def main(which=()):
    missing = set(WRITE) ^ {e.name for e in EXERCISES.values() if e.kind == "write"}
    missing |= set(PREDICT) ^ {e.name for e in EXERCISES.values() if e.kind == "predict"}
    assert not missing, f"prompts and catalogue disagree on {sorted(missing)}"
    for stem in sorted({e.notebook for e in EXERCISES.values()}):
        path = ROOT / "notebooks" / f"{stem}.ipynb"
        if which and not any(path.name.startswith(w) for w in which):
            continue
        nb = nbformat.read(path, as_version=4)
        old = {c.get("id"): c for c in nb.cells if TAG in c.metadata.get("tags", [])}
        nb.cells = [c for c in nb.cells if TAG not in c.metadata.get("tags", [])]
        for cell in cells_for(path.stem):
            was = old.get(cell.id)
            if cell.cell_type == "code" and was is not None and was.source == cell.source:
                cell.outputs, cell.execution_count = was.outputs, was.execution_count   # kept as run
            nb.cells.append(cell)
        nbformat.write(nb, path)
        print(f"{path.name}: {len(cells_for(path.stem))} exercise cells")


if __name__ == "__main__":
    main(sys.argv[1:])

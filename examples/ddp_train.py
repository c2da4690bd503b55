"""Train a tinygrad_tf model on, then carry on in PyTorch with DistributedDataParallel.

    torchrun --nproc-per-node 2 examples/ddp_train.py --steps 20 --out ddp.npz

What a learner who outgrows one machine does: a few steps here (`--here-steps`),
then the model and its optimizer are converted (`interop.to_torch`,
`interop.to_torch_optimizer`), wrapped in DistributedDataParallel, and every
process trains on its share of each batch. DDP averages the processes' gradients,
so the weights end exactly where one process on the whole batches would have
taken them (tests/test_interop.py checks this on two gloo processes). Rank 0
writes the trained weights back as our checkpoint (`--out`).

The one subtlety is the loss: with padding, the halves of a batch hold different
numbers of real tokens, so each process sums its token losses and divides by the
whole batch's count (times the number of processes, which DDP's averaging undoes).

Any launcher that sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT works (torchrun does).
"""
import argparse
import os
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import tinygrad_tf as tg
from tinygrad_tf import interop, nn, optim
from tinygrad_tf.nn import functional as F

PAD, BOS, EOS, VOCAB, BATCH = 0, 1, 2, 12, 8


def make_model():
    """The same model in every process (same seed); in real use, load your checkpoint."""
    nn.manual_seed(0)
    return nn.Transformer(VOCAB, VOCAB, d_model=16, n_heads=2, n_layers=1, d_ff=32, pad_id=PAD,
                          max_len=16).astype(np.float64)


def make_optimizer(model):
    return optim.Adam(model.parameters(), lr=0.01, betas=(0.9, 0.98), eps=1e-9)


def batch(step):
    """Batch `step` of a toy task, reversing digit strings: src, decoder input, targets."""
    rng = np.random.default_rng(step)
    src, tgt = np.full((BATCH, 6), PAD), np.full((BATCH, 8), PAD)
    for i in range(BATCH):
        n = rng.integers(2, 7)
        src[i, :n] = rng.integers(3, VOCAB, n)
        tgt[i, :n + 2] = [BOS, *src[i, :n][::-1], EOS]
    return src, tgt[:, :-1], tgt[:, 1:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--here-steps", type=int, default=2, help="steps on tinygrad_tf first")
    parser.add_argument("--steps", type=int, default=20, help="steps in PyTorch with DDP")
    parser.add_argument("--out", default=None, help="rank 0 writes the trained weights here (.npz)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the other processes")
    args = parser.parse_args()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=args.timeout))
    torch.set_num_threads(1)

    model, step = make_model(), 0                       # 1. here: every process the same steps
    opt = make_optimizer(model)
    for step in range(args.here_steps):
        src, tgt_in, tgt_out = batch(step)
        opt.zero_grad()
        F.cross_entropy(model(src, tgt_in), tgt_out, ignore_index=PAD).backward()
        opt.step()

    tmodel = interop.to_torch(model)                    # 2. to PyTorch, optimizer state and all
    topt = interop.to_torch_optimizer(opt, tmodel)
    ddp = DistributedDataParallel(tmodel)               # 3. and on to several processes

    for step in range(args.here_steps, args.here_steps + args.steps):
        src, tgt_in, tgt_out = (torch.tensor(a) for a in batch(step))
        mine = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
        tokens = int((tgt_out != PAD).sum())            # real tokens in the WHOLE batch
        logits = ddp(src[mine], tgt_in[mine])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tgt_out[mine].flatten(),
                                                 ignore_index=PAD, reduction="sum") * world / tokens
        topt.zero_grad()
        loss.backward()                                 # DDP averages the gradients here
        topt.step()
        if rank == 0:
            print(f"step {step}: loss on this share {loss.item() / world:.4f}")

    if rank == 0 and args.out:
        tg.save(interop.from_torch(tmodel).state_dict(), args.out)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

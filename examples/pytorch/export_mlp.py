#!/usr/bin/env python3
"""Export a PyTorch MLP as safetensors that metastream can import as a base model.

The network is Linear, ReLU, Linear, ReLU, ..., Linear: ReLU between layers, no activation
after the last. metastream's importer reads the Linear weights and biases only; it cannot see
activations, so any other activation would be imported silently as ReLU.

    pip install torch safetensors
    python export_mlp.py --layers 24-64-32-1 --out model.safetensors
    python export_mlp.py --layers 24-64-32-1 --train clicks.csv --loss logistic --epochs 5

The CSV has a header `task_id,target,f0,...,f23`. Training pools every task's rows: it gives a
plain starting point, which metastream adapts to each task with a few gradient steps. (A
meta-trained base adapts better; see `metastream train`.) task_id is read but not used.
"""
import argparse
import csv

import torch
from safetensors.torch import save_file
from torch import nn

# metastream loss id -> PyTorch loss on the raw output (a logit for "logistic")
LOSSES = {"mse": nn.MSELoss, "mae": nn.L1Loss, "logistic": nn.BCEWithLogitsLoss}


class Mlp(nn.Module):
    """Keeps the layers under `net`, so the tensors are named net.0.weight, net.0.bias, net.2..."""

    def __init__(self, layers):
        super().__init__()
        modules = []
        for i, (fan_in, fan_out) in enumerate(zip(layers[:-1], layers[1:])):
            modules.append(nn.Linear(fan_in, fan_out))
            if i < len(layers) - 2:
                modules.append(nn.ReLU())
        self.net = nn.Sequential(*modules)

    def forward(self, x):
        return self.net(x)


def read_csv(path, inputs):
    """Features f0..f{inputs-1} and the target of every row, as float32 tensors."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"{path}: no rows")
    columns = [f"f{i}" for i in range(inputs)]
    missing = [c for c in ["task_id", "target", *columns] if c not in rows[0]]
    if missing:
        raise SystemExit(f"{path}: missing columns {missing} for {inputs} inputs")
    x = torch.tensor([[float(r[c]) for c in columns] for r in rows], dtype=torch.float32)
    y = torch.tensor([[float(r["target"])] for r in rows], dtype=torch.float32)
    return x, y


def train(model, x, y, loss_id, epochs, batch_size, lr):
    loss_fn = LOSSES[loss_id]()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        print(f"epoch {epoch + 1}: {loss_id} loss {total / len(x):.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="24-64-32-1", help="layer sizes, input first")
    parser.add_argument("--loss", default="logistic", choices=sorted(LOSSES))
    parser.add_argument("--train", metavar="CSV", help="train on this CSV first (task_id,target,f0..)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="model.safetensors")
    args = parser.parse_args()

    layers = [int(s) for s in args.layers.split("-")]
    if len(layers) < 2 or min(layers) < 1:
        raise SystemExit(f"--layers needs at least two positive sizes, got {args.layers}")
    torch.manual_seed(args.seed)
    model = Mlp(layers)
    if args.train:
        x, y = read_csv(args.train, layers[0])
        train(model, x, y, args.loss, args.epochs, args.batch_size, args.lr)

    # float32, contiguous, on the CPU: what save_file requires and metastream computes in.
    tensors = {name: t.detach().float().contiguous().cpu() for name, t in model.state_dict().items()}
    # The importer checks "layers" against the tensors; "loss" tells the command line the loss.
    save_file(tensors, args.out, metadata={"layers": "-".join(map(str, layers)), "loss": args.loss})
    print(f"wrote {args.out}: " + ", ".join(f"{n} {list(t.shape)}" for n, t in tensors.items()))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""PyTorch CPU reference for the training speed of `arena checkpoint train` (evolve's trainer).

What it is for: evolve trains its board-game networks in candle. This script trains the same
network on the same self-play dataset with the same settings in PyTorch on the CPU, so that the
two training rates (steps/s at the same batch size, same threads) can be compared side by side.
It measures; it saves no model.

What it matches in arena's trainer (arena/src/training/trainer.rs):
- the network, read from the checkpoint's `checkpoint.json`: `mlp` (`layers` dense layers of
  `hidden` units with ReLU, then a policy head (logits) and a value head (tanh)) or `resnet`
  (a 3x3 stem, residual blocks of two 3x3 convolutions, a policy head of a 1x1 convolution to 2
  planes and a dense layer, a value head of a 1x1 convolution to 1 plane and two dense layers;
  with `norm`, a per-position layer norm with per-channel scale and shift after every
  convolution, as agents/src/network/mod.rs builds it); the starting weights are the
  checkpoint's `model.safetensors`, every tensor by its name;
- the data: an evolve dataset (`datasets/gen-N.safetensors`: `observations` [N, obs],
  `policies` [N, actions], `values` [N]), several joined in order;
- the loss: cross-entropy of the policy logits against the target shares plus
  `value_weight` x the mean squared error of the value;
- the optimizer: AdamW (betas 0.9/0.999, eps 1e-8, decoupled weight decay), constant rate
  (run `arena checkpoint train` with `--schedule constant` to compare);
- the batches: a seeded shuffle each epoch, the last batch of an epoch may be short.

Usage:
  python3 scripts/torch_train_bench.py --from runs/default/checkpoints/g3c0 \
      --data runs/default/datasets/gen-4.safetensors --epochs 1 --threads 2
Prints one line of JSON: steps, seconds, steps/s, positions/s and the first and last epoch's
losses. Run `arena checkpoint train` with the same arguments for arena's figures.
"""

import argparse
import json
import pathlib
import time

import torch
from safetensors.torch import load_file


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="checkpoint", required=True, type=pathlib.Path)
    parser.add_argument("--data", required=True, nargs="+", type=pathlib.Path)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--value-weight", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--board",
        help="ROWSxCOLUMNS of a resnet's observation planes when they are not square (connect four: 6x7)",
    )
    return parser.parse_args()


class Mlp(torch.nn.Module):
    def __init__(self, inputs, hidden, layers, actions):
        super().__init__()
        widths = [inputs] + [hidden] * layers
        self.trunk = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.policy = torch.nn.Linear(widths[-1], actions)
        self.value = torch.nn.Linear(widths[-1], 1)

    def forward(self, x):
        for layer in self.trunk:
            x = torch.relu(layer(x))
        return self.policy(x), torch.tanh(self.value(x)).squeeze(-1)


class Resnet(torch.nn.Module):
    """arena's resnet, its parameters held under arena's names (dots as `__`)."""

    def __init__(self, weights, blocks, norm, board):
        super().__init__()
        self.names = sorted(weights)
        self.params = torch.nn.ParameterDict(
            {name.replace(".", "__"): torch.nn.Parameter(tensor.clone()) for name, tensor in weights.items()}
        )
        self.blocks, self.norm, self.board = blocks, norm, board

    def p(self, name):
        return self.params[name.replace(".", "__")]

    def conv(self, x, name):
        weight = self.p(f"{name}.weight")
        return torch.nn.functional.conv2d(x, weight, self.p(f"{name}.bias"), padding=weight.shape[-1] // 2)

    def normed(self, x, name):
        if not self.norm:
            return x
        flat = x.reshape(x.shape[0], -1)
        centred = flat - flat.mean(1, keepdim=True)
        spread = (centred.pow(2).mean(1, keepdim=True) + 1e-5).sqrt()
        x = (centred / spread).reshape(x.shape)
        channels = x.shape[1]
        return x * self.p(f"{name}.scale").reshape(1, channels, 1, 1) + self.p(f"{name}.shift").reshape(
            1, channels, 1, 1
        )

    def dense(self, x, name):
        return torch.nn.functional.linear(x, self.p(f"{name}.weight"), self.p(f"{name}.bias"))

    def forward(self, observations):
        rows = observations.shape[0]
        planes = self.p("stem.weight").shape[1]
        x = observations.reshape(rows, planes, *self.board)
        x = torch.relu(self.normed(self.conv(x, "stem"), "stem.norm"))
        for block in range(self.blocks):
            inner = torch.relu(self.normed(self.conv(x, f"blocks.{block}.conv1"), f"blocks.{block}.norm1"))
            branch = self.normed(self.conv(inner, f"blocks.{block}.conv2"), f"blocks.{block}.norm2")
            x = torch.relu(x + branch)
        policy = torch.relu(self.normed(self.conv(x, "policy.conv"), "policy.norm"))
        logits = self.dense(policy.reshape(rows, -1), "policy.fc")
        value = torch.relu(self.normed(self.conv(x, "value.conv"), "value.norm"))
        value = torch.relu(self.dense(value.reshape(rows, -1), "value.fc1"))
        return logits, torch.tanh(self.dense(value, "value.fc2")).squeeze(-1)


def board_of(weights, inputs, given):
    """The rows and columns of a resnet's planes: `--board`, else the square the inputs make."""
    planes = weights["stem.weight"].shape[1]
    cells = inputs // planes
    if given:
        try:
            rows, columns = (int(part) for part in given.lower().split("x"))
        except ValueError:
            raise SystemExit(f"--board {given}: expected ROWSxCOLUMNS, e.g. 6x7")
        if rows * columns != cells:
            raise SystemExit(f"--board {given}: the observations hold {cells} cells a plane, not {rows * columns}")
        return rows, columns
    side = int(round(cells**0.5))
    if side * side != cells:
        raise SystemExit(f"the observations hold {cells} cells a plane, not a square: give --board ROWSxCOLUMNS")
    return side, side


def load_network(directory, inputs, actions, board):
    info = json.loads((directory / "checkpoint.json").read_text())
    architecture = info["architecture"]
    weights = load_file(str(directory / "model.safetensors"))
    kind = architecture.get("kind")
    if kind == "resnet":
        return Resnet(weights, architecture["blocks"], architecture.get("norm", False), board_of(weights, inputs, board)), architecture
    if kind != "mlp":
        raise SystemExit(f"{directory}: architecture {architecture} is not supported (mlp and resnet are)")
    network = Mlp(inputs, architecture["hidden"], architecture["layers"], actions)
    # arena names the layers `trunk.K.weight`, `policy.weight`, `value.bias`, as this module does.
    try:
        network.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise SystemExit(f"{directory}: the weights do not match the network: {error}")
    return network, architecture


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    parts = [load_file(str(path)) for path in args.data]
    observations = torch.cat([p["observations"] for p in parts])
    policies = torch.cat([p["policies"] for p in parts])
    values = torch.cat([p["values"] for p in parts])
    network, architecture = load_network(args.checkpoint, observations.shape[1], policies.shape[1], args.board)
    optimizer = torch.optim.AdamW(
        network.parameters(), lr=args.learning_rate, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay
    )
    n = observations.shape[0]
    generator = torch.Generator().manual_seed(args.seed)
    steps = 0
    losses = []
    started = time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(n, generator=generator)
        policy_sum = value_sum = 0.0
        for start in range(0, n, args.batch_size):
            rows = order[start : start + args.batch_size]
            logits, predicted = network(observations[rows])
            policy_loss = -(policies[rows] * torch.log_softmax(logits, dim=-1)).sum(-1).mean()
            value_loss = ((predicted - values[rows]) ** 2).mean()
            loss = policy_loss + args.value_weight * value_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            policy_sum += policy_loss.item() * len(rows)
            value_sum += value_loss.item() * len(rows)
            steps += 1
        losses.append((policy_sum / n, value_sum / n))
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "framework": f"torch {torch.__version__}",
                "architecture": architecture,
                "threads": args.threads,
                "positions": n,
                "batch_size": args.batch_size,
                "epochs": args.epochs,
                "steps": steps,
                "seconds": seconds,
                "steps_per_second": steps / seconds,
                "positions_per_second": n * args.epochs / seconds,
                "first_epoch_losses": losses[0],
                "last_epoch_losses": losses[-1],
            }
        )
    )


if __name__ == "__main__":
    main()

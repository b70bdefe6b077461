#!/usr/bin/env python3
"""PyTorch CPU reference for the training speed of `arena checkpoint train` (evolve's trainer).

What it is for: evolve trains its board-game networks in candle. This script trains the same
network on the same self-play dataset with the same settings in PyTorch on the CPU, so that the
two training rates (steps/s at the same batch size, same threads) can be compared side by side.
It measures; it saves no model.

What it matches in arena's trainer (arena/src/training/trainer.rs):
- the network, read from the checkpoint's `checkpoint.json` (only `mlp` for now): `layers` dense
  layers of `hidden` units with ReLU, then a policy head (logits) and a value head (tanh);
  the starting weights are the checkpoint's `model.safetensors`;
- the data: an evolve dataset (`datasets/gen-N.safetensors`: `observations` [N, obs],
  `policies` [N, actions], `values` [N]), several joined in order;
- the loss: cross-entropy of the policy logits against the target shares plus
  `value_weight` x the mean squared error of the value;
- the optimizer: AdamW (betas 0.9/0.999, eps 1e-8, decoupled weight decay), constant rate;
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


def load_network(directory, inputs, actions):
    info = json.loads((directory / "checkpoint.json").read_text())
    architecture = info["architecture"]
    if architecture.get("kind") != "mlp":
        raise SystemExit(f"{directory}: architecture {architecture} is not supported yet (only mlp)")
    network = Mlp(inputs, architecture["hidden"], architecture["layers"], actions)
    # arena names the layers `trunk.K.weight`, `policy.weight`, `value.bias`, as this module does.
    weights = load_file(str(directory / "model.safetensors"))
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
    network, architecture = load_network(args.checkpoint, observations.shape[1], policies.shape[1])
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

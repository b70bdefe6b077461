#!/usr/bin/env python3
"""PyTorch CPU reference for the training speed of `arena finetune`.

What it is for: `arena finetune` trains a GGUF llama model (LoRA or full fine-tuning) in candle.
This script trains the same model on the same SFT data with the same settings in PyTorch on the
CPU (transformers + peft), so that the two training rates (real tokens per second), peak memory
and first losses can be compared side by side. It measures; it saves no model.

What it matches in `arena finetune` (arena/src/training/finetune/):
- the data: TRL SFT lines `{"messages": [{"role", "content"}, ...]}`, tokenized in ChatML as the
  `llm` agent sees them: every message `<|im_start|>{role}\\n{content}<|im_end|>\\n`, the
  special tokens by id and the text between them encoded without special tokens, each assistant
  message's content and its `<|im_end|>` the only targets (labels -100 elsewhere). As in arena,
  the sequence ends at the last assistant message's `<|im_end|>` (no `\\n` after it, and
  messages after the last assistant message are left out); examples longer than --max-len tokens
  are left out;
- the loss: the mean negative log-likelihood over all target tokens of the batch;
- the batches: rows x longest sequence <= --batch-tokens (at least one row), right padding
  (padding: attention mask 0, labels -100). Unlike arena (seeded shuffle, length grouping in
  windows of 64), the batches here are cut greedily in file order, cycling through the file
  again when --steps asks for more steps than one pass has;
- the model weights dequantized to f32; LoRA (peft) of rank --lora-rank with alpha --lora-alpha
  on q/k/v/o/gate/up/down_proj, no dropout; or every weight trained (--mode full);
- AdamW (torch.optim.AdamW: betas 0.9/0.999, eps 1e-8, weight decay 0 by default), the learning
  rate 2e-4 for LoRA and 1e-5 for full fine-tuning unless --lr is given.

The rate: each optimizer step (forward + backward + AdamW step) is timed with
time.perf_counter; `tokens_per_second` counts the real (non-padding) tokens of every step but
the first (warm-up) over their time; `tokens_per_second_all` includes the first step, as arena's
own report does. The losses reported are the means of the first and the last --loss-window
steps (arena prints the same with 5). `peak_rss_mb` is ru_maxrss of this process, model loading
included (as in arena's report); `peak_rss_train_mb` is the peak during the training steps alone
(the kernel's mark reset through /proc/self/clear_refs after loading; null where that fails).

How to run it (the virtual environment is made once with
`python3 -m venv .venv-torch && .venv-torch/bin/pip install torch transformers peft gguf numpy`):

    .venv-torch/bin/python scripts/torch_finetune_bench.py \\
        --model ~/.cache/arena/models/SmolLM2-135M-Instruct.Q4_1.gguf \\
        --data sft.jsonl --mode lora --lora-rank 8 --lora-alpha 16 \\
        --batch-tokens 512 --steps 20 --threads 2

and compare with `arena finetune` on the same file and settings (with RAYON_NUM_THREADS and
CANDLE_NUM_THREADS set to the same thread count). Human-readable lines go first; the last line
of standard output is one JSON object with the measurements.
"""

import argparse
import gc
import json
import os
import platform
import resource
import sys
import time

# The model and tokenizer come from the local GGUF file only: never ask the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"


def log(message):
    print(message, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a llama GGUF file (any type transformers dequantizes)")
    p.add_argument("--data", required=True, help="TRL SFT JSON lines: {\"messages\": [...]}")
    p.add_argument("--mode", choices=["lora", "full"], default="lora")
    p.add_argument("--lora-rank", type=int, default=8)
    p.add_argument("--lora-alpha", type=float, default=16.0)
    p.add_argument("--batch-tokens", type=int, default=512, help="rows x longest sequence per step (at least one row)")
    p.add_argument("--max-len", type=int, default=512, help="leave out examples longer than this many tokens")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: one pass over the data)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--lr", type=float, default=None, help="default 2e-4 for LoRA, 1e-5 for full")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--loss-window", type=int, default=5, help="steps averaged for the first and last loss")
    p.add_argument("--seed", type=int, default=0, help="torch seed (LoRA initialization)")
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error("--threads must be at least 1")
    if args.batch_tokens < 1:
        p.error("--batch-tokens must be at least 1")
    if args.steps is not None and args.steps < 1:
        p.error("--steps must be at least 1")
    if args.lr is None:
        args.lr = 2e-4 if args.mode == "lora" else 1e-5
    return args


class ChatTokenizer:
    """ChatML encoding as arena's `LlmTokenizer` does it: special tokens by id, text plain."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        ids = {}
        for token in (IM_START, IM_END):
            tid = tokenizer.convert_tokens_to_ids(token)
            if tid is None or tid == tokenizer.unk_token_id:
                raise SystemExit(f"the vocabulary has no {token} token; only ChatML chat models are supported")
            ids[token] = tid
        self.im_start = ids[IM_START]
        self.im_end = ids[IM_END]
        self.newline = self.plain("\n")

    def plain(self, text):
        if not text:
            return []
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def conversation(self, messages):
        """(token ids, target flags): each assistant message's content and `<|im_end|>` are targets."""
        tokens, targets = [], []
        start = 0
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            prompt = []
            if start > 0:
                prompt += self.newline  # the `\n` after the previous answer's <|im_end|>
            for m in messages[start:i]:
                prompt += [self.im_start] + self.plain(f"{m['role']}\n{m['content']}") + [self.im_end] + self.newline
            prompt += [self.im_start] + self.plain("assistant\n")
            answer = self.plain(message["content"]) + [self.im_end]
            tokens += prompt + answer
            targets += [False] * len(prompt) + [True] * len(answer)
            start = i + 1
        return tokens, targets


def read_data(path, chat, max_len):
    examples, lines, too_long = [], 0, 0
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            lines += 1
            try:
                value = json.loads(line)
                messages = value["messages"]
                if not any(m["role"] == "assistant" for m in messages):
                    raise ValueError("no assistant message")
                for m in messages:
                    if not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                        raise ValueError("every message needs text `role` and `content`")
            except (ValueError, KeyError, TypeError) as e:
                raise SystemExit(f"{path} line {number}: {e}")
            tokens, targets = chat.conversation(messages)
            if len(tokens) > max_len:
                too_long += 1
                continue
            examples.append((tokens, targets))
    if not examples:
        raise SystemExit(f"{path}: no examples to train on ({lines} lines, {too_long} longer than {max_len} tokens)")
    return examples, lines, too_long


def make_batches(examples, batch_tokens):
    """Greedy, in file order: rows x longest <= batch_tokens, at least one row."""
    batches, batch, longest = [], [], 0
    for i, (tokens, _) in enumerate(examples):
        new_longest = max(longest, len(tokens))
        if batch and (len(batch) + 1) * new_longest > batch_tokens:
            batches.append(batch)
            batch, new_longest = [], len(tokens)
        batch.append(i)
        longest = new_longest
    if batch:
        batches.append(batch)
    return batches


def collate(examples, batch, pad_id):
    longest = max(len(examples[i][0]) for i in batch)
    input_ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), longest), dtype=torch.long)
    labels = torch.full((len(batch), longest), -100, dtype=torch.long)
    real = 0
    for row, i in enumerate(batch):
        tokens, targets = examples[i]
        n = len(tokens)
        input_ids[row, :n] = torch.tensor(tokens)
        attention[row, :n] = 1
        labels[row, :n] = torch.tensor([t if flag else -100 for t, flag in zip(tokens, targets)])
        real += n
    return input_ids, attention, labels, real


def peak_rss_mb():
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    return kb / 1024.0


def reset_peak_rss():
    """Resets the kernel's peak-RSS mark (Linux: /proc/self/clear_refs); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def status_mb(field):
    """A /proc/self/status memory field (VmRSS, VmHWM) in MB, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return None


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_path = os.path.abspath(os.path.expanduser(args.model))
    directory, name = os.path.split(model_path)
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, threads {torch.get_num_threads()}")
    log(f"loading {model_path} (dequantized to f32) for {args.mode} training")
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    try:
        model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    except TypeError:  # transformers before 4.56 knows only `torch_dtype`
        model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, torch_dtype=torch.float32)
    load_seconds = time.perf_counter() - started

    chat = ChatTokenizer(tokenizer)
    examples, lines, too_long = read_data(args.data, chat, args.max_len)
    target_tokens = sum(sum(t) for _, t in examples)
    batches = make_batches(examples, args.batch_tokens)
    steps = args.steps if args.steps is not None else len(batches)
    log(
        f"{len(examples)} examples of {lines} lines ({too_long} longer than {args.max_len} tokens left out), "
        f"{target_tokens} target tokens, {len(batches)} batches a pass of at most {args.batch_tokens} tokens"
    )

    peft_version = None
    if args.mode == "lora":
        import peft
        from peft import LoraConfig, get_peft_model

        peft_version = peft.__version__
        config = LoraConfig(
            r=args.lora_rank,
            lora_alpha=args.lora_alpha,
            target_modules=LORA_TARGETS,
            lora_dropout=0.0,
            bias="none",
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, config)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    trainable = sum(p.numel() for p in params)
    total = sum(p.numel() for p in model.parameters())
    log(f"{trainable} trainable parameters of {total}; lr {args.lr}, weight decay {args.weight_decay}")
    optimizer = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay)

    # Peak memory: the whole process (loading included, as arena reports it), and the training
    # steps alone (the peak mark reset after loading, where Linux allows it).
    gc.collect()
    load_peak_mb = peak_rss_mb()
    rss_before_train_mb = status_mb("VmRSS")
    train_peak_known = reset_peak_rss()

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else chat.im_end
    records = []
    for step in range(steps):
        batch = batches[step % len(batches)]
        input_ids, attention, labels, real = collate(examples, batch, pad_id)
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        output = model(input_ids=input_ids, attention_mask=attention, labels=labels)
        loss = output.loss
        loss.backward()
        optimizer.step()
        seconds = time.perf_counter() - started
        loss_value = float(loss.detach())
        if not torch.isfinite(torch.tensor(loss_value)):
            raise SystemExit(f"the loss became {loss_value} at step {step + 1}; lower --lr")
        records.append({"loss": loss_value, "tokens": real, "rows": len(batch), "width": input_ids.shape[1], "seconds": seconds})
        log(
            f"step {step + 1}/{steps}: loss {loss_value:.4f}, {len(batch)} rows x {input_ids.shape[1]} "
            f"({real} real tokens) in {seconds:.3f} s = {real / seconds:.1f} tok/s"
        )

    timed = records[1:]  # the first step is warm-up
    if timed:
        rate = sum(r["tokens"] for r in timed) / sum(r["seconds"] for r in timed)
    else:
        rate = None
    rate_all = sum(r["tokens"] for r in records) / sum(r["seconds"] for r in records)
    n = max(1, min(args.loss_window, len(records)))
    first_loss = sum(r["loss"] for r in records[:n]) / n
    last_loss = sum(r["loss"] for r in records[-n:]) / n

    peak_mb = max(load_peak_mb, peak_rss_mb())
    train_peak_mb = status_mb("VmHWM") if train_peak_known else None
    result = {
        "tool": "torch_finetune_bench",
        "mode": args.mode,
        "model": model_path,
        "data": os.path.abspath(args.data),
        "examples": len(examples),
        "too_long": too_long,
        "target_tokens": target_tokens,
        "batch_tokens": args.batch_tokens,
        "lora_rank": args.lora_rank if args.mode == "lora" else None,
        "lora_alpha": args.lora_alpha if args.mode == "lora" else None,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "trainable_parameters": trainable,
        "steps": len(records),
        "timed_steps": len(timed),
        "tokens_per_second": rate,
        "tokens_per_second_all": rate_all,
        "train_seconds": sum(r["seconds"] for r in records),
        "warmup_seconds": records[0]["seconds"],
        "load_seconds": load_seconds,
        "loss_window": n,
        "first_loss": first_loss,
        "last_loss": last_loss,
        "losses": [r["loss"] for r in records],
        "peak_rss_mb": peak_mb,
        "peak_rss_train_mb": train_peak_mb,
        "rss_before_train_mb": rss_before_train_mb,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft_version,
        "python": platform.python_version(),
    }
    train_peak_text = f"{train_peak_mb:.0f}" if train_peak_mb is not None else "n/a"
    rate_text = f"{rate:.1f}" if rate is not None else "n/a (one step only)"
    log(
        f"{args.mode}: {len(records)} steps, {rate_text} real tok/s after the warm-up step "
        f"({rate_all:.1f} with it), loss {first_loss:.4f} -> {last_loss:.4f} (mean of the first and last {n} steps), "
        f"peak RSS {peak_mb:.0f} MB ({train_peak_text} MB in the steps), {result['threads']} threads, torch {torch.__version__}"
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

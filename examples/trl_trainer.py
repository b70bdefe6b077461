#!/usr/bin/env python3
"""An external trainer for `arena finetune --trainer-cmd`: TRL (with PEFT LoRA) on PyTorch.

What it is for: models too large to train on the CPU in candle can be trained wherever PyTorch
runs (a GPU machine), with TRL's SFTTrainer or DPOTrainer, and come back to the arena as an
ordinary checkpoint. The arena runs this script, then checks what it wrote (tensor names and
shapes against the base GGUF, the header) before any agent uses it:

    arena finetune --model BASE.gguf --data sft.jsonl --method sft --out ft-trl \\
        --trainer-cmd "python3 examples/trl_trainer.py {data} {base} {out} {method}"

Arguments: DATA (the JSON lines `arena export` writes: TRL `messages` for sft, TRL
`prompt`/`chosen`/`rejected` for dpo), BASE (the GGUF; transformers reads llama GGUF files and
dequantizes them), OUT (the checkpoint directory; the script writes `adapter.safetensors` there),
METHOD (`sft` or `dpo`). Options after them: --rank 8 --alpha 16 --epochs 1 --lr 2e-4 --beta 0.1.

The adapter it writes is the arena's format (agents/src/llm/trainable/adapter.rs): for every
block `i` and adapted projection `blk.{i}.{attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,
ffn_down}.weight.lora_a` (`[rank, in]`) and `.lora_b` (`[out, rank]`), float32, and the header
`format=arena-llm-adapter-1, mode=lora, rank, alpha, targets=q,k,v,o,gate,up,down`. The update is
`alpha / rank * B A`, as PEFT's. GGUF stores the query and key projections with their rows
permuted for llama.cpp's rotary embedding (its converter's `permute`); transformers undoes that
when it reads the GGUF, so PEFT's `lora_B` of q and k is permuted back here, row for row.

Unlike `arena finetune --method sft`, which puts the loss on the assistant's tokens only, TRL's
SFTTrainer here trains on whole conversations (SmolLM2's chat template has no generation marks
for TRL's assistant-only loss).

Requirements (PyPI): torch, transformers, peft, trl, gguf, safetensors. Tested with torch 2.15
(CPU), transformers 5.24, peft 0.21, trl (the version pip chose on 2026-12-01), on
SmolLM2-135M-Instruct.
"""

import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

# PEFT module name -> the GGUF projection name and the arena's short target name.
PROJECTIONS = {
    "q_proj": ("attn_q", "q"),
    "k_proj": ("attn_k", "k"),
    "v_proj": ("attn_v", "v"),
    "o_proj": ("attn_output", "o"),
    "gate_proj": ("ffn_gate", "gate"),
    "up_proj": ("ffn_up", "up"),
    "down_proj": ("ffn_down", "down"),
}


def read_lines(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{number}: not JSON: {e}")
            row.pop("meta", None)
            rows.append(row)
    if not rows:
        sys.exit(f"{path}: no examples")
    return rows


def gguf_permute(rows, heads):
    """llama.cpp's converter permutation of a q or k projection's output rows."""
    out = rows.shape[0]
    return rows.reshape(heads, 2, out // heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def arena_adapter(model, rank, alpha):
    """The trained LoRA weights under the arena's names, q/k rows in GGUF order."""
    config = model.config
    heads = {"q_proj": config.num_attention_heads, "k_proj": config.num_key_value_heads}
    tensors = {}
    for name, parameter in model.named_parameters():
        # e.g. base_model.model.model.layers.3.self_attn.q_proj.lora_A.default.weight
        if ".lora_A." not in name and ".lora_B." not in name:
            continue
        parts = name.split(".")
        layer = int(parts[parts.index("layers") + 1])
        module = next(p for p in parts if p in PROJECTIONS)
        gguf_name, _ = PROJECTIONS[module]
        value = parameter.detach().to(torch.float32).cpu()
        if ".lora_B." in name:
            if module in heads:
                value = gguf_permute(value, heads[module])
            tensors[f"blk.{layer}.{gguf_name}.weight.lora_b"] = value.contiguous()
        else:
            tensors[f"blk.{layer}.{gguf_name}.weight.lora_a"] = value.contiguous()
    header = {
        "format": "arena-llm-adapter-1",
        "mode": "lora",
        "rank": str(rank),
        "alpha": str(float(alpha)),
        "targets": ",".join(short for _, short in PROJECTIONS.values()),
    }
    return tensors, header


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data")
    parser.add_argument("base")
    parser.add_argument("out")
    parser.add_argument("method", choices=["sft", "dpo"])
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=16.0)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--save-peft", help="also save the PEFT adapter here (to compare outputs)")
    args = parser.parse_args()

    import trl

    folder, name = os.path.split(os.path.abspath(args.base))
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # transformers dequantizes a GGUF file as it reads it: the weights are plain float32 tensors,
    # but the model still names GGUF as its quantization, which the Trainer refuses to train.
    model.hf_quantizer = None
    model.is_quantized = False
    model.quantization_method = None
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    lora = LoraConfig(
        r=args.rank,
        lora_alpha=args.alpha,
        lora_dropout=0.0,
        target_modules=list(PROJECTIONS),
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    data = Dataset.from_list(read_lines(args.data))
    common = dict(
        output_dir=tempfile.mkdtemp(prefix="trl-work-"),
        num_train_epochs=args.epochs,
        learning_rate=args.lr,
        per_device_train_batch_size=args.batch_size,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=not torch.cuda.is_available(),
    )
    if args.method == "sft":
        config = trl.SFTConfig(**common)
        trainer = trl.SFTTrainer(model=model, args=config, train_dataset=data, processing_class=tokenizer)
    else:
        config = trl.DPOConfig(beta=args.beta, **common)
        trainer = trl.DPOTrainer(model=model, args=config, train_dataset=data, processing_class=tokenizer)
    trainer.train()

    if args.save_peft:
        trainer.model.save_pretrained(args.save_peft)
    tensors, header = arena_adapter(trainer.model, args.rank, args.alpha)
    os.makedirs(args.out, exist_ok=True)
    save_file(tensors, os.path.join(args.out, "adapter.safetensors"), metadata=header)
    print(f"wrote {len(tensors)} tensors to {os.path.join(args.out, 'adapter.safetensors')}", file=sys.stderr)


if __name__ == "__main__":
    main()

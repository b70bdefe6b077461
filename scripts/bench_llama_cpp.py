"""Language-model speed side by side: `arena generate` against llama.cpp on the same GGUF file.

Reads the same ChatML prompt and generates the same number of tokens greedily (neither stops at an
end-of-turn token: `arena generate --ignore-eos`), with the same
thread count, in llama.cpp (PyPI's llama-cpp-python, installed into VENV when missing) and in
`arena generate`, alternating the two for ROUNDS rounds so that machine noise hits both alike.
Prints prompt-reading and generation tokens/s for each and their ratios (arena / llama.cpp).

With `--streams N` (N > 1) both answer N copies of the prompt at once: `arena generate --batch N`
against llama.cpp decoding the N sequences together in one batch per step (what its server does
with N parallel slots), prompts included; the figure is generated tokens per second of wall time.

Usage: python3 scripts/bench_llama_cpp.py ARENA_BINARY MODEL.gguf [--threads 2] [--tokens 128]
                                          [--prompt-words 300] [--rounds 3] [--streams 1]
                                          [--venv DIR] [--json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

LLAMA_CPP = "llama-cpp-python==0.3.36"
SENTENCE = "The committee met on Tuesday to review the budget for the coming year and agreed to fund the library."


def ensure_venv(venv):
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    if subprocess.run([python, "-c", "import llama_cpp"], capture_output=True).returncode != 0:
        print(f"installing {LLAMA_CPP} into {venv} (builds from source: several minutes)", file=sys.stderr)
        subprocess.run([python, "-m", "pip", "install", "-q", LLAMA_CPP], check=True)
    return python


# Runs inside the venv: reads the prompt (ChatML, no BOS) and generates greedily, timing each part.
LLAMA_RUN = r"""
import json, sys, time
import llama_cpp
model, prompt, tokens, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
llm = llama_cpp.Llama(model_path=model, n_threads=threads, n_threads_batch=threads, n_ctx=2048,
                      n_batch=512, verbose=False)
ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
started = time.perf_counter()
llm.eval(ids)
read = time.perf_counter() - started
started = time.perf_counter()
out = []
for _ in range(tokens):
    token = llm.sample(temp=0.0)
    out.append(token)
    llm.eval([token])
generated = time.perf_counter() - started
print(json.dumps({"prompt_tokens": len(ids), "prompt_tokens_per_s": len(ids) / read,
                  "generated_tokens": len(out), "generated_tokens_per_s": len(out) / generated}))
"""


# Runs inside the venv: N sequences of the same prompt, their prompts read in one batch and then
# one token each per step, greedy, in a context with N sequence slots; timed as a whole.
LLAMA_STREAMS = r"""
import json, sys, time
import llama_cpp
import numpy
model_path, prompt, tokens, threads, streams = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
llm = llama_cpp.Llama(model_path=model_path, n_threads=threads, n_ctx=512, verbose=False)
ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
params = llama_cpp.llama_context_default_params()
params.n_ctx = streams * (len(ids) + tokens + 8)
params.n_batch = params.n_ubatch = streams * len(ids)
params.n_seq_max = streams
params.n_threads = params.n_threads_batch = threads
ctx = llama_cpp.llama_init_from_model(llm._model.model, params)
vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(llm._model.model))
batch = llama_cpp.llama_batch_init(params.n_batch, 0, streams)
def submit(entries):
    batch.n_tokens = len(entries)
    for i, (token, pos, seq, logits) in enumerate(entries):
        batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, pos, 1
        batch.seq_id[i][0], batch.logits[i] = seq, logits
    if llama_cpp.llama_decode(ctx, batch) != 0:
        sys.exit("llama_decode failed")
def argmax(i):
    return int(numpy.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, i), shape=(vocab,)).argmax())
started = time.perf_counter()
submit([(t, p, s, p == len(ids) - 1) for s in range(streams) for p, t in enumerate(ids)])
last = [argmax((s + 1) * len(ids) - 1) for s in range(streams)]
generated = streams
for step in range(1, tokens):
    submit([(last[s], len(ids) + step - 1, s, True) for s in range(streams)])
    last = [argmax(s) for s in range(streams)]
    generated += streams
seconds = time.perf_counter() - started
print(json.dumps({"prompt_tokens": len(ids), "generated_tokens": generated, "seconds": seconds,
                  "generated_tokens_per_s": generated / seconds}))
"""


def llama_cpp_streams(python, model, user, tokens, threads, streams):
    prompt = f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    done = subprocess.run([python, "-c", LLAMA_STREAMS, model, prompt, str(tokens), str(threads), str(streams)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"llama.cpp batched run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def arena_streams(arena, model, user, tokens, threads, streams):
    command = [arena, "generate", "--model", model, "--prompt", user, "--max-tokens", str(tokens),
               "--temperature", "0", "--threads", str(threads), "--batch", str(streams), "--ignore-eos", "--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    total = json.loads(done.stdout)["total"]
    return {"prompt_tokens": total["prompt_tokens"] / streams, "generated_tokens": total["generated_tokens"],
            "seconds": total["seconds"], "generated_tokens_per_s": total["generated_tokens_per_s"]}


def llama_cpp_run(python, model, user, tokens, threads):
    prompt = f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    done = subprocess.run([python, "-c", LLAMA_RUN, model, prompt, str(tokens), str(threads)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"llama.cpp run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def arena_run(arena, model, user, tokens, threads):
    command = [arena, "generate", "--model", model, "--prompt", user, "--max-tokens", str(tokens),
               "--temperature", "0", "--threads", str(threads), "--ignore-eos", "--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    # The one stream's own figures: generation timed from its first generated token, as above.
    stream = json.loads(done.stdout)["completions"][0]
    return {"prompt_tokens": stream["prompt_tokens"], "prompt_tokens_per_s": stream["prompt_tokens_per_s"],
            "generated_tokens": len(stream["tokens"]), "generated_tokens_per_s": stream["generated_tokens_per_s"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("arena")
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--prompt-words", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--venv", default=os.path.expanduser(os.environ.get("ARENA_CACHE", "~/.cache/arena") + "/python"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    python = ensure_venv(args.venv)
    words = SENTENCE.split()
    body = " ".join(words[i % len(words)] for i in range(args.prompt_words))
    user = f"Summarize the following notes in two sentences. {body}"
    if args.streams > 1:
        return compare_streams(args, python, user)
    runs = {"llama.cpp": [], "arena": []}
    for _ in range(args.rounds):
        runs["llama.cpp"].append(llama_cpp_run(python, args.model, user, args.tokens, args.threads))
        runs["arena"].append(arena_run(args.arena, args.model, user, args.tokens, args.threads))
    summary = {}
    for name, results in runs.items():
        summary[name] = {key: statistics.median(r[key] for r in results)
                         for key in ("prompt_tokens", "prompt_tokens_per_s", "generated_tokens_per_s")}
    summary["ratio"] = {key: summary["arena"][key] / summary["llama.cpp"][key]
                        for key in ("prompt_tokens_per_s", "generated_tokens_per_s")}
    summary["settings"] = {"threads": args.threads, "tokens": args.tokens, "rounds": args.rounds,
                           "model": os.path.basename(args.model)}
    if args.json:
        print(json.dumps(summary))
        return
    print(f"{summary['settings']['model']}, {args.threads} threads, greedy, {args.tokens} tokens, "
          f"median of {args.rounds} alternating rounds")
    for name in ("llama.cpp", "arena"):
        s = summary[name]
        print(f"  {name:10} prompt {s['prompt_tokens']:.0f} tokens at {s['prompt_tokens_per_s']:7.1f} tokens/s, "
              f"generation {s['generated_tokens_per_s']:6.1f} tokens/s")
    r = summary["ratio"]
    print(f"  arena / llama.cpp: prompt {r['prompt_tokens_per_s']:.2f}x, generation {r['generated_tokens_per_s']:.2f}x")


def compare_streams(args, python, user):
    runs = {"llama.cpp": [], "arena": []}
    for _ in range(args.rounds):
        runs["llama.cpp"].append(llama_cpp_streams(python, args.model, user, args.tokens, args.threads, args.streams))
        runs["arena"].append(arena_streams(args.arena, args.model, user, args.tokens, args.threads, args.streams))
    summary = {name: {"generated_tokens_per_s": statistics.median(r["generated_tokens_per_s"] for r in results),
                      "prompt_tokens": results[0]["prompt_tokens"]}
               for name, results in runs.items()}
    ratio = summary["arena"]["generated_tokens_per_s"] / summary["llama.cpp"]["generated_tokens_per_s"]
    summary["ratio"] = {"generated_tokens_per_s": ratio}
    summary["settings"] = {"threads": args.threads, "tokens": args.tokens, "rounds": args.rounds,
                           "streams": args.streams, "model": os.path.basename(args.model)}
    if args.json:
        print(json.dumps(summary))
        return
    print(f"{summary['settings']['model']}, {args.streams} streams of a {summary['arena']['prompt_tokens']:.0f}-token "
          f"prompt, {args.threads} threads, greedy, {args.tokens} tokens each, median of {args.rounds} rounds")
    for name in ("llama.cpp", "arena"):
        print(f"  {name:10} {summary[name]['generated_tokens_per_s']:6.1f} generated tokens/s in total (prompts included)")
    print(f"  arena / llama.cpp: {ratio:.2f}x")


if __name__ == "__main__":
    main()

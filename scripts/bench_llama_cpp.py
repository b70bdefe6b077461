"""Language-model speed side by side: `arena generate` against llama.cpp on the same GGUF file.

Reads the same ChatML prompt and generates the same number of tokens greedily, with the same
thread count, in llama.cpp (PyPI's llama-cpp-python, installed into VENV when missing) and in
`arena generate`, alternating the two for ROUNDS rounds so that machine noise hits both alike.
Prints prompt-reading and generation tokens/s for each and their ratios (arena / llama.cpp).

Usage: python3 scripts/bench_llama_cpp.py ARENA_BINARY MODEL.gguf [--threads 2] [--tokens 128]
                                          [--prompt-words 300] [--rounds 3] [--venv DIR] [--json]
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


def llama_cpp_run(python, model, user, tokens, threads):
    prompt = f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    done = subprocess.run([python, "-c", LLAMA_RUN, model, prompt, str(tokens), str(threads)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"llama.cpp run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def arena_run(arena, model, user, tokens, threads):
    command = [arena, "generate", "--model", model, "--prompt", user, "--max-tokens", str(tokens),
               "--temperature", "0", "--threads", str(threads), "--json"]
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
    parser.add_argument("--venv", default=os.path.expanduser(os.environ.get("ARENA_CACHE", "~/.cache/arena") + "/python"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    python = ensure_venv(args.venv)
    words = SENTENCE.split()
    body = " ".join(words[i % len(words)] for i in range(args.prompt_words))
    user = f"Summarize the following notes in two sentences. {body}"
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


if __name__ == "__main__":
    main()

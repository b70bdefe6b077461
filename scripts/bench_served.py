"""Throughput of a language model behind an OpenAI-compatible server, as `openai(...)` agents see it.

Plays tic-tac-toe between two sampling settings of the served model (every move is a request) at
each number of concurrent games, and prints games/s and the tokens/s the server counted (from the
requests stored with each turn).

Usage: python3 scripts/bench_served.py ARENA_BINARY BASE_URL [--games N] [--concurrency 1,4,8]
                                       [--mode chat|completion] [--label NAME]
"""
import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile


def run(arena, url, games, threads, mode, db):
    agent = f"openai(url={url},mode={mode},temperature=0.7,move_tokens=8,retries=1,concurrency=64"
    command = [
        arena, "play", "--game", "tic_tac_toe", "--agents", agent + ")", agent + ",seed=1)",
        "--games", str(games), "--threads", str(threads), "--db", db, "--json",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    report = json.loads(done.stdout)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT request FROM turns WHERE request IS NOT NULL").fetchall()
    requests = [json.loads(r[0]) for r in rows]
    prompt = sum(r.get("prompt_tokens", 0) for r in requests)
    completion = sum(r.get("completion_tokens", 0) for r in requests)
    seconds = report["seconds"]
    return {
        "concurrency": threads,
        "games": report["games"],
        "seconds": round(seconds, 1),
        "games_per_s": round(report["games"] / seconds, 3),
        "requests": len(requests),
        "prompt_tokens_per_s": round(prompt / seconds, 1),
        "completion_tokens_per_s": round(completion / seconds, 1),
        "faults": report.get("faults", {}),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("arena")
    parser.add_argument("url")
    parser.add_argument("--games", type=int, default=16)
    parser.add_argument("--concurrency", default="1,4,8")
    parser.add_argument("--mode", default="chat")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        for threads in [int(c) for c in args.concurrency.split(",")]:
            db = os.path.join(work, f"c{threads}.db")
            result = run(args.arena, args.url, args.games, threads, args.mode, db)
            result["label"] = args.label
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

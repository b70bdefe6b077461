#!/usr/bin/env python3
"""An Arena agent in Python: plays a uniformly random legal move.

Arena runs it as `cmd(program="python3 examples/random_bot.py")` and speaks JSON lines:
  {"type": "start", "game": SPEC, "player": P}                 -- a game begins (no answer)
  {"type": "move", "observation": TEXT, "legal": [{"id": N, "text": T}, ...],
   "time_left_ms": MS, "feedback": ERROR_OR_NULL, "seed": N}    -- answer one line
  {"type": "end", "returns": [...]}                            -- the game is over (no answer)
Answer a move with {"action": "<text of a legal move>"} or {"id": N}. At text turns (debates)
"legal" is empty and the answer's "action" is the utterance. Drawing random choices from "seed"
makes the bot's games reproducible, whatever the number of threads.
"""
import json
import random
import sys


def main():
    for line in sys.stdin:
        message = json.loads(line)
        if message["type"] != "move":
            continue
        rng = random.Random(message["seed"])
        legal = message["legal"]
        if legal:
            answer = {"action": rng.choice(legal)["text"]}
        else:
            answer = {"action": "I have nothing to add."}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()

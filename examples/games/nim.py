"""Nim as a game process: `proc(program="python3 examples/games/nim.py", heaps=3-4-5)`.

Two players take turns removing one or more objects from one heap; whoever takes the last object
wins (normal play). A position is lost for the player to move exactly when the heaps' XOR is 0.
Action `heap * most + (count - 1)` takes `count` from `heap`, where `most` is the largest heap;
its name is `heap:count` (heaps counted from 1), e.g. `2:3`.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arena_game import serve  # noqa: E402


class Nim:
    def __init__(self, params):
        text = str(params.get("heaps", "3-4-5"))
        try:
            self.heaps = [int(h) for h in text.split("-")]
        except ValueError:
            raise ValueError("heaps=%s: sizes joined by '-', e.g. 3-4-5" % text)
        if not self.heaps or min(self.heaps) < 1 or max(self.heaps) > 20 or len(self.heaps) > 8:
            raise ValueError("heaps=%s: 1 to 8 heaps of 1 to 20" % text)
        self.most = max(self.heaps)

    def facts(self):
        return {
            "name": "nim",
            "players": 2,
            "num_actions": len(self.heaps) * self.most,
            "max_game_length": sum(self.heaps),
            "observation_shape": [len(self.heaps), self.most + 1],
            "min_return": -1,
            "max_return": 1,
            "utility": "zero_sum",
            "information": "perfect",
        }

    def initial(self):
        return {"heaps": list(self.heaps), "to_move": 0}

    def turn(self, s):
        return "terminal" if sum(s["heaps"]) == 0 else s["to_move"]

    def legal(self, s):
        return [h * self.most + (c - 1) for h, size in enumerate(s["heaps"]) for c in range(1, size + 1)]

    def chance(self, s):
        return []

    def apply(self, s, action):
        heap, count = divmod(action, self.most)
        s["heaps"][heap] -= count + 1
        s["to_move"] = 1 - s["to_move"]

    def returns(self, s):
        # The player who took the last object moved just before the end: the one not to move.
        winner = 1 - s["to_move"]
        return [1 if p == winner else -1 for p in range(2)]

    def action_name(self, s, action):
        heap, count = divmod(action, self.most)
        return "%d:%d" % (heap + 1, count + 1)

    def parse(self, s, text):
        try:
            heap, count = (int(part) for part in text.strip().split(":"))
        except ValueError:
            raise ValueError("write HEAP:COUNT, e.g. 2:3")
        if not (1 <= heap <= len(self.heaps) and 1 <= count <= self.most):
            raise ValueError("no heap %d or count %d" % (heap, count))
        return (heap - 1) * self.most + (count - 1)

    def observe(self, s, player):
        tensor = []
        for size in s["heaps"]:
            tensor += [1.0 if k == size else 0.0 for k in range(self.most + 1)]
        return self.render(s), tensor

    def render(self, s):
        rows = ["heap %d: %s (%d)" % (i + 1, "|" * size, size) for i, size in enumerate(s["heaps"])]
        return "\n".join(rows) + "\nplayer %d to move" % s["to_move"]


if __name__ == "__main__":
    serve(Nim)

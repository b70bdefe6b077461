"""One-card poker as a game process, an imperfect-information game with chance:
`proc(program="python3 examples/games/one_card_poker.py", cards=3)` (with 3 cards, Kuhn poker).

Each player antes 1 and is dealt one of `cards` cards (chance, twice); player 0 checks or bets 1;
after a check player 1 checks (showdown) or bets; after a bet the other folds or calls (showdown).
The higher card wins the pot. Actions: 0 = pass (check or fold), 1 = bet (bet or call). Chance
outcome `c` deals card `c`. A player sees their own card and the betting, never the other card.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arena_game import serve  # noqa: E402

PASS, BET = 0, 1


class OneCardPoker:
    def __init__(self, params):
        self.cards = int(params.get("cards", 3))
        if not 2 <= self.cards <= 13:
            raise ValueError("cards=%s: 2 to 13" % self.cards)

    def facts(self):
        return {
            "name": "one_card_poker",
            "players": 2,
            "num_actions": 2,
            "max_chance_outcomes": self.cards,
            "max_game_length": 5,
            "observation_shape": [self.cards + 6],
            "min_return": -2,
            "max_return": 2,
            "utility": "zero_sum",
            "information": "imperfect",
        }

    def initial(self):
        return {"dealt": [], "bets": []}

    def _over(self, s):
        b = s["bets"]
        return b in ([PASS, PASS], [BET, PASS], [BET, BET], [PASS, BET, PASS], [PASS, BET, BET])

    def turn(self, s):
        if len(s["dealt"]) < 2:
            return "chance"
        if self._over(s):
            return "terminal"
        return len(s["bets"]) % 2

    def legal(self, s):
        return [PASS, BET]

    def chance(self, s):
        left = [c for c in range(self.cards) if c not in s["dealt"]]
        return [(c, 1.0 / len(left)) for c in left]

    def apply(self, s, action):
        if len(s["dealt"]) < 2:
            s["dealt"].append(action)
        else:
            s["bets"].append(action)

    def returns(self, s):
        b = s["bets"]
        if b[-1] == PASS and BET in b:
            # A fold: whoever bet last takes the antes.
            bettor = (len(b) - 2) % 2
            return [1 if p == bettor else -1 for p in range(2)]
        stake = 2 if BET in b else 1
        winner = 0 if s["dealt"][0] > s["dealt"][1] else 1
        return [stake if p == winner else -stake for p in range(2)]

    def action_name(self, s, action):
        if len(s["dealt"]) < 2:
            return "card%d" % action
        return {PASS: "pass", BET: "bet"}.get(action, "#%d" % action)

    def parse(self, s, text):
        word = text.strip().lower()
        if word.startswith("card") and word[4:].isdigit() and int(word[4:]) < self.cards:
            return int(word[4:])
        words = {"pass": PASS, "check": PASS, "fold": PASS, "bet": BET, "call": BET}
        if text.strip().lower() not in words:
            raise ValueError("write pass or bet (or cardN for a deal)")
        return words[text.strip().lower()]

    def observe(self, s, player):
        card = s["dealt"][player] if len(s["dealt"]) > player else None
        tensor = [1.0 if card == c else 0.0 for c in range(self.cards)]
        tensor += [1.0 if player == p else 0.0 for p in range(2)]
        for k in range(4):
            tensor.append(float(s["bets"][k]) if k < len(s["bets"]) else 0.0)
        text = "you are player %d; your card: %s; bets: %s" % (
            player,
            "none yet" if card is None else card,
            " ".join("pass" if b == PASS else "bet" for b in s["bets"]) or "none",
        )
        return text, tensor

    def render(self, s):
        return "cards %s; bets %s" % (s["dealt"], s["bets"])


if __name__ == "__main__":
    serve(OneCardPoker)

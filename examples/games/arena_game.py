"""Arena's game-process protocol in Python: write a game as a class, call serve(YourGame).

Arena runs `proc(program="python3 my_game.py", key=value, ...)` and speaks JSON lines with the
program: one request per line on its standard input, one answer per line on its standard output
(standard error is free for logs; Arena shows its last lines when the program fails).

    {"cmd":"start","params":{...},"moves":[...]}  -> {"facts":{...},"state":STATE}
    {"cmd":"apply","action":A}                    -> {"state":STATE} or {"error":"why"}
    {"cmd":"apply_text","text":"..."}             -> {"state":STATE} or {"error":"why"}
    {"cmd":"observe","player":P}                  -> {"text":"...","tensor":[...],"information_state":"..."}
    {"cmd":"action_to_string","action":A}         -> {"text":"..."}
    {"cmd":"parse_action","text":"..."}           -> {"action":A} or {"error":"why"}
    {"cmd":"render"}                              -> {"text":"..."}

STATE is {"turn": P | "chance" | "terminal", "legal": [...], "names": [...],
"chance": [[A, probability], ...], "returns": [...], "input": "discrete" | "text"}.
`start` begins a new game with the spec's parameters (numbers and booleans as JSON values) and
plays `moves` (actions, or texts at text turns) from its start: Arena restores any position so.

The facts: name, players, num_actions (actions are 0..num_actions-1), max_chance_outcomes (0
without chance), max_game_length, observation_shape (the tensor's shape; [] for none),
min_return, max_return, utility ("zero_sum" or "general_sum"), information ("perfect" or
"imperfect"), input ("discrete" or "text").

A game class takes the parameters in its constructor and has: facts(), initial() -> a state
(mutable), turn(s), legal(s) (sorted), chance(s), apply(s, action) (may raise ValueError), returns(s),
action_name(s, action), parse(s, text) (raises ValueError), observe(s, player) -> (text, tensor),
render(s); optionally information_state(s, player), input(s) and apply_text(s, text) for text
turns. `serve` checks legality before `apply`, so a game need not.
"""

import json
import sys


def _describe(game, state):
    turn = game.turn(state)
    described = {"turn": turn, "legal": [], "names": [], "chance": [], "returns": []}
    if turn == "chance":
        described["chance"] = [[a, p] for a, p in game.chance(state)]
    elif turn == "terminal":
        described["returns"] = list(game.returns(state))
    else:
        described["input"] = game.input(state) if hasattr(game, "input") else "discrete"
        if described["input"] == "discrete":
            legal = list(game.legal(state))
            described["legal"] = legal
            described["names"] = [game.action_name(state, a) for a in legal]
    return described


def _play(game, state, move):
    """Applies one move (an action, or text at a text turn); the reason it is refused, or None."""
    turn = game.turn(state)
    if turn == "terminal":
        return "the game is over"
    if isinstance(move, str):
        if not hasattr(game, "apply_text"):
            return "this game takes no text"
        try:
            game.apply_text(state, move)
        except ValueError as refused:
            return str(refused)
        return None
    allowed = [a for a, _ in game.chance(state)] if turn == "chance" else game.legal(state)
    if move not in allowed:
        return "action %r is not legal here" % (move,)
    try:
        game.apply(state, move)
    except ValueError as refused:
        return str(refused)
    return None


def serve(make_game):
    """Answers Arena's requests on standard input until it closes."""
    game, state = None, None
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        command = request.get("cmd")
        try:
            if command == "start":
                game = make_game(request.get("params", {}))
                state = game.initial()
                answer = None
                for number, move in enumerate(request.get("moves", []), 1):
                    refused = _play(game, state, move)
                    if refused is not None:
                        answer = {"error": "move %d (%r): %s" % (number, move, refused)}
                        break
                if answer is None:
                    answer = {"facts": game.facts(), "state": _describe(game, state)}
            elif game is None:
                answer = {"error": "no game started"}
            elif command in ("apply", "apply_text"):
                move = request["action"] if command == "apply" else request["text"]
                refused = _play(game, state, move)
                answer = {"error": refused} if refused is not None else {"state": _describe(game, state)}
            elif command == "observe":
                player = request["player"]
                text, tensor = game.observe(state, player)
                answer = {"text": text, "tensor": list(tensor)}
                if hasattr(game, "information_state"):
                    answer["information_state"] = game.information_state(state, player)
            elif command == "action_to_string":
                answer = {"text": game.action_name(state, request["action"])}
            elif command == "parse_action":
                try:
                    answer = {"action": game.parse(state, request["text"])}
                except ValueError as unreadable:
                    answer = {"error": str(unreadable)}
            elif command == "render":
                answer = {"text": game.render(state)}
            else:
                answer = {"error": "unknown command %r" % (command,)}
        except ValueError as bad:
            answer = {"error": str(bad)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()

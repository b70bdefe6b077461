"""Checks an OpenAI-compatible server (`arena serve-model`) with the official `openai` Python client.

Usage: python3 scripts/openai_client_check.py BASE_URL
Prints one JSON object with what the client got; exits 1 with the reason if a call fails.
"""
import json
import sys

import openai


def main(base_url):
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=120)
    models = [m.id for m in client.models.list()]
    model = models[0]
    chat = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "Answer with one move."},
                  {"role": "user", "content": "Tic-tac-toe, empty board. Your move:"}],
        max_tokens=8, temperature=0, seed=7, logprobs=True,
    )
    again = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "Answer with one move."},
                  {"role": "user", "content": "Tic-tac-toe, empty board. Your move:"}],
        max_tokens=8, temperature=0, seed=7,
    )
    prompt = "<|im_start|>user\nYour move:<|im_end|>\n<|im_start|>assistant\nb2<|im_end|>"
    scored = client.completions.create(model=model, prompt=prompt, max_tokens=0, echo=True, logprobs=0)
    try:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], stream=True)
        refused = None
    except openai.BadRequestError as error:
        refused = {"status": error.status_code, "message": str(error)}
    try:
        client.chat.completions.create(model="not-" + model, messages=[{"role": "user", "content": "hi"}])
        wrong_model = None
    except openai.NotFoundError as error:
        wrong_model = {"status": error.status_code}
    print(json.dumps({
        "models": models,
        "chat": chat.choices[0].message.content,
        "chat_again": again.choices[0].message.content,
        "chat_logprobs": len(chat.choices[0].logprobs.content or []),
        "usage": chat.usage.model_dump(),
        "echo": scored.choices[0].text,
        "token_logprobs": scored.choices[0].logprobs.token_logprobs,
        "stream_refused": refused,
        "wrong_model": wrong_model,
    }))


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as error:  # the test shows the reason
        print(f"openai client check failed: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)

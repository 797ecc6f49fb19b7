"""``copilot bench``: turn latency through the copilot channel, and NLU quality.

Simulated advisors (each with its own token, so each has its own conversation)
run scripted service conversations concurrently against the running bot. Then the
model is evaluated on both held-out splits (intents, client_name spans, parse
time per message); ``--nlu-only`` runs just that part, without servers. Figures
go to stdout; nothing is asserted, since timings depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.advisors import issue_token, upsert_advisor
from bot.cards import db
from bot.nlu.evaluate import TEST_SPLITS, Evaluation, evaluate
from bot.training import model_path

BENCH_STORE = "压测门店"
# One service conversation: lookups (with a disambiguation), preference notes,
# and the guided-flow turns an advisor sends mid-service.
SCRIPT = (
    "你好",
    "帮我查一下王先生",
    '/lookup_client{"client_id": "C0001"}',
    "记一下,王建国喜欢靠窗",
    "查一下张雅琴",
    "张女士酸梅汤要冰的大杯",
    "看下周晓雯的档案",
    "有哪些功能",
    "先这样 拜拜",
)


@dataclass
class LevelResult:
    advisors: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[index]

    def line(self) -> str:
        turns = len(self.latencies_ms)
        return (
            f"{self.advisors:>8} {turns:>6} {self.percentile(50):>8.1f} "
            f"{self.percentile(95):>8.1f} "
            f"{self.percentile(99):>8.1f} {turns / self.seconds if self.seconds else 0:>8.1f} "
            f"{self.errors:>6}"
        )


def bench_tokens(count: int) -> list[str]:
    with db.session_scope() as session:
        return [
            issue_token(
                session,
                upsert_advisor(session, f"BENCH{i:02d}", f"压测{i:02d}", BENCH_STORE, "advisor"),
            )
            for i in range(1, count + 1)
        ]


async def _advisor(
    http: aiohttp.ClientSession, url: str, token: str, rounds: int, result: LevelResult
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(rounds):
        for text in SCRIPT:
            started = time.perf_counter()
            try:
                async with http.post(url, json={"message": text}, headers=headers) as answer:
                    body = await answer.json()
                    ok = answer.status == 200 and bool(body) and "custom" in body[-1]
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                ok = False
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            if not ok:
                result.errors += 1


async def run_level(base_url: str, tokens: list[str], rounds: int) -> LevelResult:
    url = f"{base_url}/webhooks/copilot/webhook"
    result = LevelResult(len(tokens))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        await _advisor(http, url, tokens[0], 1, LevelResult(1))  # warm-up, not counted
        started = time.perf_counter()
        await asyncio.gather(*(_advisor(http, url, t, rounds, result) for t in tokens))
        result.seconds = time.perf_counter() - started
    return result


def _print_split(folder: Path, evaluation: Evaluation, errors: int) -> None:
    print(
        f"{folder}/: {evaluation.examples} examples  accuracy {evaluation.accuracy:.3f}  "
        f"macro-F1 {evaluation.macro_f1:.3f}"
    )
    weakest = sorted(evaluation.per_intent.items(), key=lambda kv: kv[1])[:5]
    print("  weakest intents: " + ", ".join(f"{k} {v:.2f}" for k, v in weakest))
    names = evaluation.names
    if names is not None:
        print(
            f"  client_name: {names.gold} annotated, {names.predicted} found  "
            f"recall {names.recall:.3f}  precision {names.precision:.3f}  F1 {names.f1:.3f}  "
            f"(overlap: recall {names.lenient_recall:.3f}  "
            f"precision {names.lenient_precision:.3f})"
        )
    print(
        f"  parse ms: mean {evaluation.mean_parse_ms:.1f}  "
        f"p50 {evaluation.parse_ms_percentile(50):.1f}  "
        f"p95 {evaluation.parse_ms_percentile(95):.1f}"
    )
    if errors <= 0:
        return
    for text, gold, guess in evaluation.errors[:errors]:
        print(f"    intent {gold} → {guess}: {text}")
    if names is not None:
        for text, wanted, found in names.missed[:errors]:
            print(f"    missed {wanted}" + (f" (found {found})" if found else "") + f": {text}")
        for text, span in names.spurious[:errors]:
            print(f"    spurious {span}: {text}")


def run_nlu(model: Path, errors: int = 0) -> None:
    """Both held-out splits through the NLU service's own interpreter, timed per message."""
    from bot.nlu.interpreter import load_interpreter

    interpreter = load_interpreter(str(model))
    print(f"NLU on the held-out splits ({model.name}, the NLU service's parse path):")
    for folder in TEST_SPLITS:
        _print_split(folder, evaluate(interpreter.parse, folder), errors)


def run_bench(args: argparse.Namespace) -> int:
    if args.nlu_only:
        run_nlu(model_path(), args.errors)
        return 0
    levels = [int(x) for x in str(args.advisors).split(",") if x.strip()]
    tokens = bench_tokens(max(levels))
    print(f"Latency through {args.url}/webhooks/copilot/webhook ({len(SCRIPT)} turns a round)")
    print(
        f"{'advisors':>8} {'turns':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'turns/s':>8} {'errors':>6}"
    )
    failed = False
    for level in levels:
        result = asyncio.run(run_level(args.url.rstrip("/"), tokens[:level], args.rounds))
        print(result.line(), flush=True)
        failed |= result.errors > 0
    if not args.skip_nlu:
        print()
        run_nlu(model_path(), args.errors)
    return 1 if failed else 0

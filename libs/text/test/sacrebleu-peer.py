#!/usr/bin/env python3
"""An independent peer for the parity test: scores with the `sacrebleu` package itself.

Reads one JSON object on stdin, {"jobs": [...]}, and writes {"version": ..., "results": [...]}
on stdout, one result per job, in order. Jobs:
  {"kind": "corpus", "metric": "bleu"|"chrf"|"ter", "options": {<sacrebleu kwargs>},
   "hyps": [str], "refs": [[str]]}                 -> score fields + signature
  {"kind": "sentence", "metric": ..., "options": {...}, "pairs": [[hyp, [ref, ...]], ...]}
                                                    -> [score fields + signature]
  {"kind": "tokenize", "tokenizer": "13a"|"intl"|"char"|"none"|"ter", "options": {...},
   "lines": [str]}                                  -> [str]: BLEU tokenizers on the raw line, their
                                                       output re-split as BLEU splits it; tercom after
                                                       rstrip, as TER calls it
  {"kind": "unicode-classes", "classes": ["P", ...]} -> {class: [[first, last], ...]} code point
                                                       ranges matched by the `regex` module's \\p{..}
  {"kind": "time", "metric": ..., "options": {...}, "pairs": [[hyp, [ref, ...]], ...],
   "repeats": r}                                    -> {"seconds": s, "pairs": n}: one metric object,
                                                       sentence_score per pair, timed in-process,
                                                       best of r passes with tokenizer caches cleared
Python floats go out through json (repr), so they arrive bit-exact.
"""
import json
import logging
import sys
import time

import regex
import sacrebleu
from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.tokenizers.tokenizer_ter import TercomTokenizer

logging.getLogger("sacrebleu").setLevel(logging.ERROR)

METRICS = {"bleu": BLEU, "chrf": CHRF, "ter": TER}


def fields(metric, score):
    if metric == "bleu":
        return {"score": score.score, "counts": score.counts, "totals": score.totals,
                "precisions": score.precisions, "bp": score.bp,
                "sys_len": score.sys_len, "ref_len": score.ref_len}
    if metric == "chrf":
        return {"score": score.score, "name": score.name}
    return {"score": score.score, "num_edits": score.num_edits, "ref_length": score.ref_length}


def clear_tokenizer_caches(metric):
    """sacrebleu's tokenizers memoize lines (lru_cache); a repeated timing pass must not profit."""
    tok = getattr(metric, "tokenizer", None)
    for obj in (tok, getattr(tok, "_post_tokenizer", None)):
        call = getattr(type(obj), "__call__", None) if obj is not None else None
        if hasattr(call, "cache_clear"):
            call.cache_clear()


def run(job):
    kind = job["kind"]
    if kind == "corpus":
        m = METRICS[job["metric"]](**job["options"])
        out = fields(job["metric"], m.corpus_score(job["hyps"], job["refs"]))
        out["signature"] = m.get_signature().format()
        return out
    if kind == "sentence":
        m = METRICS[job["metric"]](**job["options"])
        results = []
        for hyp, refs in job["pairs"]:
            out = fields(job["metric"], m.sentence_score(hyp, refs))
            out["signature"] = m.get_signature().format()
            results.append(out)
        return results
    if kind == "tokenize":
        if job["tokenizer"] == "ter":
            tok = TercomTokenizer(**job["options"])
            return [tok(line.rstrip()) for line in job["lines"]]
        tok = BLEU(tokenize=job["tokenizer"]).tokenizer
        return [" ".join(tok(line).split()) for line in job["lines"]]
    if kind == "unicode-classes":
        everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
        out = {}
        for cls in job["classes"]:
            ranges = []
            for ch in regex.findall(r"\p{%s}" % cls, everything):
                c = ord(ch)
                if ranges and ranges[-1][1] == c - 1:
                    ranges[-1][1] = c
                else:
                    ranges.append([c, c])
            out[cls] = ranges
        return out
    if kind == "time":
        m = METRICS[job["metric"]](**job["options"])
        pairs = job["pairs"]
        for hyp, refs in pairs[:100]:  # warm-up: imports, regex compilation
            m.sentence_score(hyp, refs)
        best = float("inf")
        for _ in range(job.get("repeats", 1)):
            clear_tokenizer_caches(m)
            t0 = time.perf_counter()
            for hyp, refs in pairs:
                m.sentence_score(hyp, refs)
            best = min(best, time.perf_counter() - t0)
        return {"seconds": best, "pairs": len(pairs)}
    raise ValueError(f"unknown job kind {kind!r}")


def main():
    request = json.load(sys.stdin)
    results = [run(job) for job in request["jobs"]]
    json.dump({"version": sacrebleu.__version__, "results": results}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()

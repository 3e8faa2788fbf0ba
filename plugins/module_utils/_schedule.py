# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: run steps concurrently where their order allows.

Each step names the steps it comes after. A step starts as soon as every step it comes after
has succeeded, and is skipped (with the reason) when one of them failed; independent steps run
side by side, at most ``workers`` at a time. Pure apart from the threads: the work is a function
the caller passes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import concurrent.futures
import time


def order_problems(steps):
    """What is wrong with the declared order: unknown or duplicate keys, cycles."""
    keys = [s["key"] for s in steps]
    problems = ["%s is listed twice" % k for k in sorted(set(k for k in keys if keys.count(k) > 1))]
    known = set(keys)
    for step in steps:
        for before in step.get("after") or []:
            if before not in known:
                problems.append("%s comes after %s, which is not in the list" % (step["key"], before))
    if problems:
        return problems
    done, pending = set(), list(steps)
    while pending:
        ready = [s for s in pending if set(s.get("after") or []) <= done]
        if not ready:
            return ["the order has a cycle among %s" % ", ".join(sorted(s["key"] for s in pending))]
        done.update(s["key"] for s in ready)
        pending = [s for s in pending if s["key"] not in done]
    return []


def run_steps(steps, work, workers=4, clock=time.monotonic):
    """Run ``work(step)`` for every step, each after the steps it names in ``after``.

    Returns {key: outcome} with outcome {"ok": bool, "value": what work returned, "error": the
    exception, "skipped": reason, "seconds": float}. ``work`` raising marks the step failed and
    every step after it (directly or not) skipped.
    """
    outcomes = {}
    pending = list(steps)
    running = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while pending or running:
            for step in list(pending):
                after = step.get("after") or []
                failed = [k for k in after if k in outcomes and not outcomes[k]["ok"]]
                if failed:
                    pending.remove(step)
                    outcomes[step["key"]] = {"ok": False, "skipped": "%s did not succeed" % ", ".join(failed),
                                             "seconds": 0.0}
                elif all(k in outcomes for k in after):
                    pending.remove(step)
                    running[pool.submit(_timed, work, step, clock)] = step
            if not running:
                # Only steps whose order cannot be met are left (see order_problems).
                for step in pending:
                    outcomes[step["key"]] = {"ok": False, "skipped": "its order cannot be met", "seconds": 0.0}
                break
            finished, dummy = concurrent.futures.wait(list(running), return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                step = running.pop(future)
                outcomes[step["key"]] = future.result()
    return outcomes


def _timed(work, step, clock):
    start = clock()
    try:
        value = work(step)
    except Exception as exc:  # noqa: BLE001 -- reported per step; the others go on
        return {"ok": False, "error": exc, "seconds": clock() - start}
    return {"ok": True, "value": value, "seconds": clock() - start}

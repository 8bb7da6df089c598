#!/usr/bin/env python3
"""Renders the tables of docs/ALLOCATION.md from duijie-simulate --json.

    for s in 1 2 3 4 5; do
      tools/simulate --scenario bench/scenarios/glut-week-s$s.wl --json \
          --policy continuous --policy fifo --policy batch:1h --policy batch:30m
    done > /tmp/runs.json
    tools/sim/allocation_tables.py /tmp/runs.json

One JSON object per seed, in seed order; prints Markdown.
"""
import json
import sys


def kg(v):
    return f"{v:,}"


def pct(v):
    return f"{100 * v:.1f}%"


def main(path):
    # duijie-simulate --json prints one object per run over several lines:
    # read them one after the other.
    decoder, runs = json.JSONDecoder(), []
    text = open(path).read().strip()
    while text:
        run, end = decoder.raw_decode(text)
        runs.append(run)
        text = text[end:].lstrip()
    policies = [p["policy"] for p in runs[0]["policies"]]

    print("**Kg sold before expiry** (share of the optimum):\n")
    print("| seed | offered kg | pledged kg | optimum | " +
          " | ".join(policies) + " |")
    print("|---" * (4 + len(policies)) + "|")
    for seed, r in enumerate(runs, 1):
        cells = [f"{kg(p['sold_kg'])} ({pct(p['share_of_optimum'])})"
                 for p in r["policies"]]
        print(f"| {seed} | {kg(r['offered_kg'])} | {kg(r['pledged_kg'])} | "
              f"{kg(r['optimum']['max_kg'])} | " + " | ".join(cells) + " |")

    print("\n**Kg from key-assisted counties and relocation sites** (ratio to "
          "FIFO's; the optimum's among allocations selling the optimum kg):\n")
    print("| seed | optimum | " + " | ".join(policies) + " |")
    print("|---" * (2 + len(policies)) + "|")
    for seed, r in enumerate(runs, 1):
        fifo = next(p for p in r["policies"] if p["policy"] == "fifo")
        opt = r["optimum"]["max_priority_kg"]
        cells = [f"{kg(p['priority_kg'])} ({p['priority_ratio_to_fifo']:.2f}x)"
                 for p in r["policies"]]
        print(f"| {seed} | {kg(opt)} ({opt / fifo['priority_kg']:.2f}x) | " +
              " | ".join(cells) + " |")

    print("\n**Partner share of kg sold** (the optimum's: selling the optimum "
          "kg / the bound for any policy selling 95% of it):\n")
    print("| seed | optimum | " + " | ".join(policies) + " |")
    print("|---" * (2 + len(policies)) + "|")
    for seed, r in enumerate(runs, 1):
        o = r["optimum"]
        at95 = 0.95 * o["max_kg"]
        bound = min(o["max_partner_only_kg"], at95) / at95
        cells = [pct(p["partner_share"]) for p in r["policies"]]
        print(f"| {seed} | {pct(o['max_partner_kg'] / o['max_kg'])} / "
              f"{pct(bound)} | " + " | ".join(cells) + " |")

    print("\n**Households reached** (kg-weighted) and **buyers' fill rate** "
          "(kg sold / kg pledged; the optimum's: its kg / kg pledged):\n")
    print("| seed | " + " | ".join(f"households {p}" for p in policies) +
          " | fill optimum | " + " | ".join(f"fill {p}" for p in policies) +
          " |")
    print("|---" * (2 + 2 * len(policies)) + "|")
    for seed, r in enumerate(runs, 1):
        households = [kg(p["households"]) for p in r["policies"]]
        fills = [pct(p["fill_rate"]) for p in r["policies"]]
        print(f"| {seed} | " + " | ".join(households) + " | " +
              pct(r["optimum"]["max_kg"] / r["pledged_kg"]) + " | " +
              " | ".join(fills) + " |")

    print("\n**Kg unsold**, by shelf-life class and by the third of the week "
          "the offer was posted in:\n")
    print("| seed | kg unsold | " + " | ".join(policies) + " |")
    print("|---" * (2 + len(policies)) + "|")
    rows = [("perishable", "unsold_kg_by_class", 0),
            ("semi-perishable", "unsold_kg_by_class", 1),
            ("storable", "unsold_kg_by_class", 2),
            ("posted in the 1st third", "unsold_kg_by_third", 0),
            ("posted in the 2nd third (glut)", "unsold_kg_by_third", 1),
            ("posted in the 3rd third (response)", "unsold_kg_by_third", 2)]
    for seed, r in enumerate(runs, 1):
        for i, (name, field, k) in enumerate(rows):
            cells = [kg(p[field][k]) for p in r["policies"]]
            print(f"| {seed if i == 0 else ''} | {name} | " +
                  " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])

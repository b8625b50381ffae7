"""Turn a pytest-benchmark JSON into a ratio table: each group's medians beside fastnorm's.

    python bench/report.py out.json
"""
import json
import sys


def main(path):
    with open(path) as f:
        data = json.load(f)
    groups = {}
    for b in data["benchmarks"]:
        info = b["extra_info"]
        runtime = info.get("runtime") or info.get("impl") or b["name"].split("[")[-1].rstrip("]")
        groups.setdefault(b["group"], {})[runtime] = (b["stats"]["median"], b["extra_info"])
    mi = data.get("machine_info", {})
    isa = mi.get("fastnorm_isa", "?")
    print("CPU: %s; fastnorm ISA: %s (best on this CPU: %s); every runtime on %s thread(s) unless a row "
          "says -1thread; outputs checked before timing; medians in ms"
          % (mi.get("cpu", {}).get("brand_raw", "?"), isa, mi.get("fastnorm_best_isa", "?"),
             mi.get("bench_threads", "?")))
    print("| group | ISA | " + " | ".join(["fastnorm ms", "peer ms (runtime)", "fastnorm / best peer"]) + " |")
    print("|---|---|---|---|---|")
    for g, rows in sorted(groups.items()):
        if "fastnorm" not in rows:
            continue
        fn, info = rows["fastnorm"]
        peers = {k: v[0] for k, v in rows.items() if not k.startswith("fastnorm")}
        if not peers:
            continue
        best = min(peers, key=peers.get)
        others = ", ".join("%s %.3f" % (k, v * 1e3) for k, v in sorted(peers.items(), key=lambda kv: kv[1]))
        print("| %s | %s | %.3f | %s | %.2f |" % (g, info.get("isa", isa), fn * 1e3, others,
                                                  fn / peers[best]))


if __name__ == "__main__":
    main(sys.argv[1])

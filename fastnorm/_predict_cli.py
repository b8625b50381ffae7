"""`fastnorm predict MODEL INPUTS... -o OUT`: files in, one .npy or .csv of outputs, resumable.

Inputs are files, folders (their .npy and image files) or globs, taken in sorted order. Each batch's
outputs go to a part file in OUT's work folder (OUT.parts/) and a line in its journal; a rerun reads
the journal and predicts only the files not done yet (files that failed are tried again). At the end
the parts are assembled into OUT: for .npy, an array with one row per predicted file, in input order,
and OUT.files.txt naming the file of each row; for .csv, one line per file: the path, then the
outputs flattened. A file that cannot be read is reported by name on stderr and skipped, never fatal.
"""
import glob
import json
import os
import sys

import numpy as np

from fastnorm.batch import IMAGE_SUFFIXES, InputOptions, chunks, predict_files

SUFFIXES = (".npy",) + IMAGE_SUFFIXES


def add_parser(sub, load, progress):
    """The `predict` subcommand; load(args) and progress(...) are fastnorm.cli's (passed in, so this
    module does not import the cli that imports it)."""
    p = sub.add_parser("predict", help="predict a folder or glob of .npy files or images into one .npy/.csv")
    p.add_argument("file", metavar="model")
    p.add_argument("inputs", nargs="+", help="files, folders (their .npy and image files) or globs")
    p.add_argument("-o", "--output", required=True, help="OUT.npy or OUT.csv")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=0, help="0: the default (fastnorm.get_num_threads())")
    p.add_argument("--recursive", action="store_true", help="walk folders recursively")
    p.add_argument("--resize", type=int, help="images: shorter side before the crop (default: the crop)")
    p.add_argument("--crop", type=int, help="images: centre crop (default: the model's input size)")
    p.add_argument("--mean", type=float, nargs=3, default=None, help="images: per-channel mean (ImageNet's)")
    p.add_argument("--std", type=float, nargs=3, default=None, help="images: per-channel std (ImageNet's)")
    p.add_argument("--scheduler", help="a Dask scheduler address: the workers read and predict the files")
    p.add_argument("--restart", action="store_true", help="ignore the journal of an earlier run")
    p.add_argument("--progress", action="store_true", help="progress bar on stderr even when not a terminal")
    p.set_defaults(fn=cmd_predict, load=load, progress_bar=progress)
    return p


def list_inputs(specs, recursive=False):
    """Sorted, de-duplicated paths from files, folders and globs; (paths, specs that matched nothing)."""
    found, empty = set(), []
    for spec in specs:
        if os.path.isdir(spec):
            if recursive:
                hits = [os.path.join(d, f) for d, _, fs in os.walk(spec) for f in fs]
            else:
                hits = [os.path.join(spec, f) for f in os.listdir(spec)]
            hits = [h for h in hits if h.lower().endswith(SUFFIXES) and os.path.isfile(h)]
        elif glob.has_magic(spec):
            hits = [h for h in glob.glob(spec, recursive=True) if os.path.isfile(h)]
        else:
            hits = [spec]          # a named file: tried whatever its suffix, and reported if bad
        if not hits:
            empty.append(spec)
        found.update(os.path.abspath(h) for h in hits)
    return sorted(found), empty


class Journal:
    """OUT.parts/journal.jsonl: one JSON line per finished batch {"part", "paths", "failed"}; the part
    file (outputs of "paths", in order) is written before its line, so a line names a whole part."""

    def __init__(self, output, restart=False):
        self.folder = output + ".parts"
        self.path = os.path.join(self.folder, "journal.jsonl")
        os.makedirs(self.folder, exist_ok=True)
        if restart and os.path.exists(self.path):
            os.replace(self.path, self.path + ".old")
        self.entries = self._read()
        self.next_part = 1 + max((e["part"] for e in self.entries), default=-1)

    def _read(self):
        entries = []
        try:
            with open(self.path) as f:
                for line in f:
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue    # a line cut short by a crash: that batch is simply redone
                    if not e.get("paths") or os.path.exists(self._part(e["part"])):
                        entries.append(e)
        except FileNotFoundError:
            pass
        return entries

    def _part(self, i):
        return os.path.join(self.folder, "part-%06d.npy" % i)

    def done(self):
        return {p for e in self.entries for p in e["paths"]}

    def add(self, outputs, paths, failed):
        i = self.next_part
        self.next_part += 1
        if paths:
            tmp = self._part(i) + ".tmp"
            with open(tmp, "wb") as f:
                np.save(f, np.asarray(outputs))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._part(i))
        e = {"part": i, "paths": list(paths), "failed": [list(b) for b in failed]}
        with open(self.path, "a") as f:
            f.write(json.dumps(e) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.entries.append(e)

    def outputs(self):
        """{path: output row} over every part."""
        rows = {}
        for e in self.entries:
            if e["paths"]:
                y = np.load(self._part(e["part"]), allow_pickle=False)
                rows.update(zip(e["paths"], y))
        return rows


def write_output(output, paths, rows):
    tmp = output + ".tmp"
    if output.lower().endswith(".csv"):
        with open(tmp, "w") as f:
            for p in paths:
                f.write(_csv_field(p) + "," + ",".join(repr(float(v)) for v in np.ravel(rows[p])) + "\n")
    else:
        with open(tmp, "wb") as f:
            np.save(f, np.stack([rows[p] for p in paths]) if paths else np.zeros((0,), np.float32))
        with open(output + ".files.txt", "w") as f:
            f.writelines(p + "\n" for p in paths)
    os.replace(tmp, output)


def _csv_field(s):
    return '"%s"' % s.replace('"', '""') if any(c in s for c in ',"\n') else s


def cmd_predict(args):
    import fastnorm
    out = args.output
    if not out.lower().endswith((".npy", ".csv")):
        print("fastnorm predict: -o must name a .npy or .csv file, got %s" % out, file=sys.stderr)
        return 2
    if args.batch < 1:
        print("fastnorm predict: --batch must be >= 1, got %d" % args.batch, file=sys.stderr)
        return 2
    model = args.load(args)
    if len(model.inputs) != 1:
        print("fastnorm predict: the model has %d inputs; predict feeds one" % len(model.inputs), file=sys.stderr)
        return 2
    if args.threads:
        fastnorm.set_num_threads(args.threads)
        model.num_threads = args.threads
    kw = {k: getattr(args, k) for k in ("resize", "crop", "mean", "std") if getattr(args, k) is not None}
    opts = InputOptions.for_model(model, **kw)

    paths, empty = list_inputs(args.inputs, args.recursive)
    for spec in empty:
        print("fastnorm predict: %s: no .npy or image files" % spec, file=sys.stderr)
    journal = Journal(os.path.abspath(out), restart=args.restart)
    done = journal.done()
    todo = [p for p in paths if p not in done]
    if done:
        print("resuming: %d of %d files done in an earlier run" % (len(paths) - len(todo), len(paths)),
              file=sys.stderr)
    bar = args.progress_bar(args.progress or sys.stderr.isatty(), len(todo), "files", label="predict")
    failed = []

    def record(y, good, bad, finished):
        journal.add(y, good, bad)
        for p, why in bad:
            print("\nfastnorm predict: skipped %s: %s" % (p, why), file=sys.stderr)
        failed.extend(bad)
        bar.update(finished)

    groups = [todo[s] for s in chunks(len(todo), args.batch)]
    if args.scheduler and groups:
        _run_dask(args.scheduler, model, groups, opts, record)
    else:
        finished = 0
        for g in groups:
            y, good, bad = predict_files(model, g, opts)
            finished += len(g)
            record(y, good, bad, finished)
    bar.close(len(todo))

    rows = journal.outputs()
    order = [p for p in paths if p in rows]
    write_output(out, order, rows)
    print("wrote %s: %d file(s) predicted (%d in this run), %d skipped as unreadable"
          % (out, len(order), len(todo) - len(failed), len(failed)))
    return 0


def _run_dask(address, model, groups, opts, record):
    from distributed import Client, as_completed

    from fastnorm.batch import _dask_predict_files, dask_register
    with Client(address) as client:
        name = dask_register(client, model)
        futures = client.map(_dask_predict_files, [name] * len(groups), groups, [opts] * len(groups), pure=False)
        finished = 0
        for fut in as_completed(futures):
            y, good, bad = fut.result()
            finished += len(good) + len(bad)
            record(y, good, bad, finished)
        client.unregister_worker_plugin(name)

"""Command line: `cnnkernels bench ...` or `python -m cnnkernels bench ...`."""

import sys

USAGE = "usage: cnnkernels bench [options]   (cnnkernels bench --help for the options)"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] != "bench":
        print(f"cnnkernels: unknown command {argv[0]!r}\n{USAGE}", file=sys.stderr)
        return 2
    from .bench import main as bench_main
    return bench_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())

"""Each chapter's execution time in the last full build of the book (``make book``).

The build measures itself: myst-nb times each notebook, and the book's Sphinx extension
(``book/_ext/execution_report.py``) writes ``book/results/book-build.json`` when the build ends.
This script records that report; it does not build the book (run ``make book`` first, on a quiet
machine). The report names the build's commit, which can be older than the benchmark's, and
whether the chapters that train models found their run folders in ``book/cache/`` is visible in
their times (seconds when loaded, minutes when trained).
"""

from lipviz.batch import book_build_times, published


def main():
    times, build = book_build_times(published())
    note = f"build of {build['finished']} at commit {build['commit']}, {build['machine']}"
    print(f"RESULT book_build_s {build['build_seconds']:.0f} s whole Sphinx build; {note}")
    print(f"RESULT book_executed_s {build['executed_seconds']:.0f} s sum of the pages' times")
    for row in times.itertuples():
        status = "" if row.succeeded else " (FAILED)"
        print(f"RESULT {row.page}_s {row.seconds:.1f} s{status}")


if __name__ == "__main__":
    main()

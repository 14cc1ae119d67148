#!/usr/bin/env bash
# docs/architecture.svg (the README's picture) is what graphviz makes of
# docs/architecture.dot: regenerate it and compare. Skipped without dot.
# Fix: dot -Tsvg docs/architecture.dot -o docs/architecture.svg
# Env: SRC_DIR.
set -u
command -v dot >/dev/null || { echo "architecture: SKIP: graphviz (dot) not installed" >&2; exit 77; }
svg=$(mktemp /tmp/fsfilter-architecture.XXXXXX) || exit 1
trap 'rm -f "$svg"' EXIT
dot -Tsvg "$SRC_DIR/docs/architecture.dot" -o "$svg" || { echo "architecture: FAIL: dot failed" >&2; exit 1; }
if ! cmp -s "$svg" "$SRC_DIR/docs/architecture.svg"; then
	echo "architecture: FAIL: docs/architecture.svg is not up to date with docs/architecture.dot;" \
		"run: dot -Tsvg docs/architecture.dot -o docs/architecture.svg" >&2
	diff "$svg" "$SRC_DIR/docs/architecture.svg" | head -n 20 >&2
	exit 1
fi
grep -q 'docs/architecture.svg' "$SRC_DIR/README.md" ||
	{ echo "architecture: FAIL: README.md does not show docs/architecture.svg" >&2; exit 1; }
echo "architecture: ok"

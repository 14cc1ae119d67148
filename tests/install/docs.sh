#!/usr/bin/env bash
# docs/for-windows-minifilter-developers.md stays true to the tree: every fsfilter
# identifier it names (flt_*, fltc_*, FLT_*, MON_*) is declared in the
# public headers (Windows names of the same shape are listed below), every
# repository file and doc it links or names exists, and the monitor
# arguments it uses are ones the monitor accepts (docs/monitor.md table).
# Env: SRC_DIR.
set -u
fail() { echo "docs: FAIL: $*" >&2; exit 1; }
doc=$SRC_DIR/docs/for-windows-minifilter-developers.md
[[ -f $doc ]] || fail "missing docs/for-windows-minifilter-developers.md"
# Windows Filter Manager names that look like ours
windows="FLT_CONTEXT_REGISTRATION FLT_IS_FS_FILTER_OPERATION
FLT_OPERATION_REGISTRATION FLT_PREOP_DISALLOW_FASTIO FLT_REGISTRATION
FLT_CALLBACK_DATA FLT_SET_CONTEXT_KEEP_IF_EXISTS FLT_POSTOP_CALLBACK_STATUS
FLT_POST_OPERATION_FLAGS"
n=0
for id in $(grep -ohE '\b(flt_[a-z_]*[a-z]|fltc_[a-z_]*[a-z]|FLT_[A-Z_]*[A-Z]|MON_[A-Z_]*[A-Z])\b' "$doc" | sort -u); do
	grep -qw "$id" <<<"$windows" && continue
	grep -qw "$id" "$SRC_DIR"/include/fsfilter/*.h ||
		fail "the porting guide names $id, which no public header declares"
	n=$((n + 1))
done
((n > 40)) || fail "only $n identifiers checked: extraction broken?"
# files and docs it points at
for f in $(grep -ohE '\b(examples|filters|include|docs|src|tests|bench)/[A-Za-z0-9_./-]+\.(c|h|md|sh)\b' "$doc" | sort -u) \
	$(grep -ohE '\]\([a-z-]+\.md\)' "$doc" | sed 's/](\(.*\))/docs\/\1/' | sort -u); do
	[[ -f $SRC_DIR/$f ]] || fail "the porting guide points at $f, which does not exist"
done
for f in mon_path.c mon_client.c mon_verdict.c; do
	grep -q "$f" "$doc" && { [[ -f $SRC_DIR/filters/monitor/$f ]] || fail "filters/monitor/$f missing"; }
done
# monitor arguments used in the guide are documented monitor arguments
for k in $(grep -ohE 'monitor:[a-z_=,0-9]+' "$doc" | sed 's/^monitor://; s/,/\n/g' | cut -d= -f1 | sort -u) \
	$(grep -ohE '`(verdict_timeout_ms|max_verdict_ms|paging_bound_ms|port_mode|max_clients|queue_kb|deny_errno)' "$doc" | tr -d '`' | sort -u); do
	grep -q "^| \`$k\` |" "$SRC_DIR/docs/monitor.md" || fail "monitor argument '$k' is not in docs/monitor.md"
done
# the tests it cites as proof: ctest names that exist, unit test functions
# that exist
if [[ -n ${BUILD_DIR:-} && -f $BUILD_DIR/CTestTestfile.cmake ]]; then
	tests=$(cd "$BUILD_DIR" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p')
	t=0
	for name in $(grep -ohE '`(it|unit)_[a-z0-9_]+`' "$doc" | tr -d '`' | sort -u); do
		grep -qx "$name" <<<"$tests" || fail "the guide cites test $name, which ctest does not know"
		t=$((t + 1))
	done
	((t >= 10)) || fail "only $t tests cited: extraction broken?"
fi
for fn in $(grep -ohE '`test_[a-z0-9_]+`' "$doc" | tr -d '`' | sort -u); do
	grep -qw "static void $fn" "$SRC_DIR"/tests/unit/*.c || fail "the guide cites unit test $fn, which does not exist"
done
for f in src/core/dispatch.c src/core/fio.c src/core/volume.c src/core/loader.c src/port/send.c; do
	grep -q "$f" "$doc" && { [[ -f $SRC_DIR/$f ]] || fail "$f missing"; }
done
echo "docs: ok ($n identifiers)"

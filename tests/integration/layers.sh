#!/usr/bin/env bash
# The layers: each binary carries only its own layer, the agent offers
# only its own options, and tests/lib/layers catches a wrong include or an
# op called around backends/ops.c.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
cd "$T_TMP" || exit 1
AGENT=$B/hwkey-agent

syms_agent=$(nm "$AGENT" 2>&1)
syms_gen=$(nm "$HWK" 2>&1)
check_match "nm reads the agent" "hwk_agent_serve" "$syms_agent"
check_no_match "the agent has no keygen command" \
    " (hwk_cli_main|hwk_list_keys|hwk_report)$" "$syms_agent"
check_match "nm reads hwkeygen" "hwk_cli_main" "$syms_gen"
check_no_match "hwkeygen has no agent" \
    " (hwk_agent_serve|hwk_agent_dispatch|hwk_daemon_listen)$" "$syms_gen"

help=$("$AGENT" --help 2>&1)
for o in --tcti --module --module-allow --pin-source --token; do
	check_match "agent --help offers $o" "^  $o( |$)" "$help"
done
for o in --id --label --login --parent; do
	check_no_match "agent --help leaves out hwkeygen's $o" "^  $o( |$)" "$help"
	check_rc 2 "the agent refuses $o" "$AGENT" -D "$o" 01
done
ghelp=$("$HWK" --help 2>&1)
for o in --id --label --login --parent --tcti --pin-source; do
	check_match "hwkeygen --help offers $o" "^  $o( |$)" "$ghelp"
done

# The checker itself, on a copy of the tree with one fault at a time.
check "the tree keeps its layers" "$TOP/tests/lib/layers" "$TOP"
# One copy; each fault is planted in it and taken out again.
mkdir tree && cp -r "$TOP/src" "$TOP/backends" "$TOP/include" tree/ || exit 1
check "the copy keeps its layers" "$TOP/tests/lib/layers" "$T_TMP/tree"
plant() {	# plant DESC WANT FILE LINE
	local f=tree/$3 rc
	cp "$f" "$f.orig" && printf '%s\n' "$4" >>"$f"
	out=$("$TOP/tests/lib/layers" "$T_TMP/tree" 2>&1)
	rc=$?
	mv "$f.orig" "$f"
	if [ "$rc" -ne 0 ] && matches "$2" "$out"; then
		ok "$1"
	else
		not_ok "$1" "exit $rc" "$out"
	fi
}
plant "the agent including the cli is refused" "across a layer" \
    src/agent/proto.c '#include "../cli/cli.h"'
plant "core including the backends' interface is refused" \
    "core includes the backends' interface" \
    src/core/out.c '#include "hwkey/backend.h"'
plant "a header of another folder is refused" "give its folder an -I" \
    src/cli/list.c '#include "agent/agent.h"'
plant "an op called outside ops.c is refused" "outside backends/ops.c" \
    src/cli/list.c 'static int x(const struct hwk_backend *b) { return b->probe(0); }'
cp tree/src/core/out.c tree/src/cli/out.c
out=$("$TOP/tests/lib/layers" "$T_TMP/tree" 2>&1)
check_match "two library files of one name are refused" \
    "same name: out.c" "$out"

# A header of another layer is not on the include path at all.
printf '#include "cli.h"\n' >tree/src/agent/probe.c
out=$(${CC:-cc} -Itree/include -fsyntax-only tree/src/agent/probe.c 2>&1)
check_match "the agent's include path has no cli.h" "cli\.h.*(No such file|file not found)" "$out"

done_testing

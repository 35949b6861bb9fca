# bench/icount.awk: reads one callgrind output file of bench/build/icount_loop
# (written with --dump-instr=yes --compress-strings=no --compress-pos=no) and
# prints, tab-separated, for bench/icount:
#   wrap  WRAPPER IR BRANCHES SITECOUNT COB CFN TARGET
#         the inclusive cost of the calls icount_malloc and icount_free make
#         (the allocator's entry point, whatever its name), the executions
#         of their call site, and the callee with the biggest cost;
#   call  OB SITE COB CFN TARGET IR     every call (or tail jump) record;
#   self  OB ADDR IR                    every instruction's own count.
# BRANCHES is Bc + Bi (conditional and indirect branches) when callgrind ran
# with --branch-sim=yes, else "-". Addresses are as callgrind wrote them.
BEGIN { OFS = "\t"; npos = 1; ir = bc = bi = 0 }

/^positions:/ { npos = NF - 1; next }
/^events:/ {
	for (i = 2; i <= NF; i++) {
		if ($i == "Ir") ir = i - 1
		if ($i == "Bc") bc = i - 1
		if ($i == "Bi") bi = i - 1
	}
	next
}
/^ob=/ { ob = substr($0, 4); next }
/^fn=/ { fn = substr($0, 4); next }
/^cob=/ { cob = substr($0, 5); next }
/^cfn=/ { cfn = substr($0, 5); callee_ob = (cob != "" ? cob : ob); cob = ""; next }
/^calls=/ { split($0, c, /[= ]/); target = c[3]; in_call = 1; next }
/^[0-9]/ {
	site = $1
	v_ir = (ir && ir + npos <= NF) ? $(ir + npos) : 0
	v_br = 0
	if (bc && bc + npos <= NF) v_br += $(bc + npos)
	if (bi && bi + npos <= NF) v_br += $(bi + npos)
	if (in_call) {
		in_call = 0
		print "call", ob, site, callee_ob, cfn, target, v_ir
		if (fn == "icount_malloc" || fn == "icount_free") {
			w_ir[fn] += v_ir
			w_br[fn] += v_br
			if (v_ir >= best[fn]) {
				best[fn] = v_ir
				w_callee[fn] = callee_ob "\t" cfn "\t" target
				w_site[fn] = ob "\t" site
			}
		}
		next
	}
	print "self", ob, site, v_ir
	self[ob "\t" site] += v_ir
	next
}

END {
	for (f in w_ir)
		print "wrap", f, w_ir[f], (bc || bi) ? w_br[f] : "-", self[w_site[f]] + 0, w_callee[f]
}

# bench/report.awk: reads bench's raw CSV (one row per run of one workload
# under one allocator) and prints one table per figure: rows = workloads,
# columns = allocators (in the order given by -v allocs), each cell the median
# over the successful runs and, in parentheses, its ratio to glibc; a column
# "basemalloc vs best peer" (basemalloc / the best of jemalloc, mimalloc,
# tcmalloc; basemalloc-hardened and the profiler columns are not peers), a column "hardened vs
# default" (basemalloc-hardened / basemalloc) when both ran, and a
# geometric-mean row. Writes, under -v outdir: tables.txt
# (what it printed), summary.csv (medians), results.json (medians, ratios and
# the raw rows) and ratio-time.dat / ratio-peak.dat (for the bar chart).
# -v anyexit=1 counts any normal exit as a successful run (bench/compare: a
# user's command may exit non-zero by design); otherwise only exit:0 does.
# Portable awk (no gawk extensions). Run with -F, .

function median(key,    n, i, j, t, a) {
	n = cnt[key]
	if (n == 0) return ""
	for (i = 1; i <= n; i++) a[i] = vals[key, i]
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	if (n % 2) return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}

function out(s) { sub(/ +$/, "", s); print s; print s > (outdir "/tables.txt") }

function fmt(metric, v) {
	if (v == "") return "-"
	if (metric == "wall" || metric == "cpu") return sprintf(v < 10 ? "%.3f" : "%.2f", v)
	if (metric == "minflt") return sprintf("%.1fk", v / 1000)
	return sprintf("%.1f", v / 1024)
}

function pad(s, w) { while (length(s) < w) s = s " "; return s }

function med(w, a, metric) { return M[w, a, metric] }

function ratio(v, base) { return (v != "" && base != "" && base > 0 && v > 0) ? v / base : "" }

# Prints one figure's table.
function table(metric, label,    r, c, w, a, v, base, cell, nrow, ncol, width, best, bestname, p, rr, gsum, gn, bsum, bn) {
	nrow = 0
	ncol = nalloc + (cbp ? 1 : 0) + (chd ? 1 : 0)
	hdr[0] = "workload"
	for (c = 1; c <= nalloc; c++) hdr[c] = A[c]
	if (cbp) hdr[cbp] = "basemalloc vs best peer"
	if (chd) hdr[chd] = "hardened vs default"
	for (c = 1; c <= ncol; c++) { gsum[c] = 0; gn[c] = 0 }
	for (r = 1; r <= nwl; r++) {
		w = W[r]
		cells[r, 0] = w
		base = med(w, "glibc", metric)
		for (c = 1; c <= nalloc; c++) {
			a = A[c]
			v = med(w, a, metric)
			if (v == "" && ok[w, a] == 0 && fail[w, a] > 0) cell = "FAIL " laststatus[w, a]
			else if (v == "") cell = "-"
			else {
				cell = fmt(metric, v)
				rr = ratio(v, base)
				if (a != "glibc" && rr != "") {
					cell = cell sprintf(" (%.2f)", rr)
					gsum[c] += log(rr); gn[c]++
				}
				if (fail[w, a] > 0) cell = cell " !"
			}
			cells[r, c] = cell
		}
		if (chd) {
			rr = ratio(med(w, "basemalloc-hardened", metric), med(w, "basemalloc", metric))
			if (rr == "") cells[r, chd] = "-"
			else {
				cells[r, chd] = sprintf("%.2f", rr)
				gsum[chd] += log(rr); gn[chd]++
			}
		}
		if (cbp) {
			best = ""; bestname = ""
			for (p = 1; p <= npeer; p++) {
				v = med(w, P[p], metric)
				if (v != "" && (best == "" || v < best)) { best = v; bestname = P[p] }
			}
			rr = ratio(med(w, "basemalloc", metric), best)
			if (rr == "") cells[r, cbp] = "-"
			else {
				cells[r, cbp] = sprintf("%.2f vs %s", rr, bestname)
				gsum[cbp] += log(rr); gn[cbp]++
				BP[w, metric] = rr; BPN[w, metric] = bestname
			}
		}
	}
	nrow = nwl + (nwl > 1 ? 1 : 0)
	cells[nwl + 1, 0] = "geomean"
	for (c = 1; c <= ncol; c++) {
		if (c <= nalloc && A[c] == "glibc") cells[nwl + 1, c] = "1.00"
		else if (gn[c] == 0) cells[nwl + 1, c] = "-"
		else {
			GM[metric, c] = exp(gsum[c] / gn[c])
			cells[nwl + 1, c] = sprintf(c <= nalloc ? "(%.2f)" : "%.2f", GM[metric, c])
		}
	}
	for (c = 0; c <= ncol; c++) {
		width[c] = length(hdr[c])
		for (r = 1; r <= nrow; r++) if (length(cells[r, c]) > width[c]) width[c] = length(cells[r, c])
	}
	out("")
	out(label)
	line = ""
	for (c = 0; c <= ncol; c++) line = line pad(hdr[c], width[c] + 2)
	out(line)
	for (r = 1; r <= nrow; r++) {
		line = ""
		for (c = 0; c <= ncol; c++) line = line pad(cells[r, c], width[c] + 2)
		out(line)
	}
}

function meta_table(    r, w, m, res, pk, line, any) {
	any = 0
	for (r = 1; r <= nwl; r++) if (M[W[r], "basemalloc", "meta_mapped"] != "") any = 1
	if (!any) return
	out("")
	out("basemalloc metadata (its bases), median: mapped MiB, resident MiB, resident as % of peak RSS")
	out(sprintf("%-18s %10s %10s %8s", "workload", "mapped", "resident", "% peak"))
	for (r = 1; r <= nwl; r++) {
		w = W[r]
		m = M[w, "basemalloc", "meta_mapped"]
		res = M[w, "basemalloc", "meta_resident"]
		pk = M[w, "basemalloc", "peak"]
		if (m == "") { out(sprintf("%-18s %10s %10s %8s", w, "-", "-", "-")); continue }
		out(sprintf("%-18s %10.2f %10.2f %7.2f%%", w, m / 1048576, res / 1048576,
			pk > 0 ? 100 * res / 1024 / pk : 0))
	}
}

function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
function jnum(v) { return v == "" ? "null" : sprintf("%.10g", v) }

function write_json(    f, r, c, w, a, k, first, i) {
	f = outdir "/results.json"
	printf "{\n  \"title\": %s,\n  \"allocators\": [", jstr(title) > f
	for (c = 1; c <= nalloc; c++) printf "%s%s", (c > 1 ? ", " : ""), jstr(A[c]) > f
	printf "],\n  \"units\": {\"wall\": \"s\", \"cpu\": \"s\", \"peak\": \"KiB\", \"end\": \"KiB\", \"minflt\": \"faults\", \"meta_mapped\": \"bytes\", \"meta_resident\": \"bytes\"},\n" > f
	printf "  \"medians\": [\n" > f
	first = 1
	for (r = 1; r <= nwl; r++) for (c = 1; c <= nalloc; c++) {
		w = W[r]; a = A[c]
		if (!first) printf ",\n" > f
		first = 0
		printf "    {\"workload\": %s, \"allocator\": %s, \"runs_ok\": %d, \"runs_failed\": %d", jstr(w), jstr(a), ok[w, a], fail[w, a] > f
		for (k = 1; k <= nmet; k++) {
			printf ", %s: %s", jstr(MET[k]), jnum(M[w, a, MET[k]]) > f
			if (a != "glibc" && MET[k] !~ /^meta/)
				printf ", %s: %s", jstr(MET[k] "_vs_glibc"), jnum(ratio(M[w, a, MET[k]], M[w, "glibc", MET[k]])) > f
		}
		if (a == "basemalloc") for (k = 1; k <= 5; k++)
			if ((w, MET[k]) in BP) printf ", %s: %s, %s: %s", jstr(MET[k] "_vs_best_peer"), jnum(BP[w, MET[k]]), jstr(MET[k] "_best_peer"), jstr(BPN[w, MET[k]]) > f
		printf "}" > f
	}
	printf "\n  ],\n  \"geomean_vs_glibc\": {" > f
	first = 1
	for (k = 1; k <= 5; k++) for (c = 1; c <= nalloc + 2; c++) if ((MET[k], c) in GM) {
		printf "%s%s: %s", (first ? "" : ", "), jstr(MET[k] "." (c <= nalloc ? A[c] : c == chd ? "hardened_vs_default" : "basemalloc_vs_best_peer")), jnum(GM[MET[k], c]) > f
		first = 0
	}
	printf "},\n  \"raw\": [\n" > f
	for (i = 1; i <= nraw; i++) {
		split(RAW[i], x, ",")
		printf "    {\"run\": %d, \"workload\": %s, \"allocator\": %s, \"status\": %s, \"wall_s\": %s, \"cpu_s\": %s, \"user_s\": %s, \"sys_s\": %s, \"peak_rss_kib\": %s, \"end_rss_kib\": %s, \"minflt\": %s, \"majflt\": %s, \"meta_mapped\": %s, \"meta_resident\": %s, \"checksum\": %s}%s\n", x[1], jstr(x[2]), jstr(x[3]), jstr(x[4]), jnum(x[5]), jnum(x[6]), jnum(x[7]), jnum(x[8]), jnum(x[9]), jnum(x[10]), jnum(x[11]), jnum(x[12]), jnum(x[13]), jnum(x[14]), jstr(x[15]), (i < nraw ? "," : "") > f
	}
	printf "  ]\n}\n" > f
	close(f)
}

function write_summary(    f, r, c, w, a, k) {
	f = outdir "/summary.csv"
	printf "workload,allocator,runs_ok,runs_failed" > f
	for (k = 1; k <= nmet; k++) printf ",median_%s", MET[k] > f
	printf "\n" > f
	for (r = 1; r <= nwl; r++) for (c = 1; c <= nalloc; c++) {
		w = W[r]; a = A[c]
		printf "%s,%s,%d,%d", w, a, ok[w, a], fail[w, a] > f
		for (k = 1; k <= nmet; k++) printf ",%s", M[w, a, MET[k]] > f
		printf "\n" > f
	}
	close(f)
}

function write_dat(metric, file,    r, c, w, rr) {
	printf "workload" > file
	for (c = 1; c <= nalloc; c++) if (A[c] != "glibc") printf " %s", A[c] > file
	printf "\n" > file
	for (r = 1; r <= nwl; r++) {
		w = W[r]
		printf "%s", w > file
		for (c = 1; c <= nalloc; c++) if (A[c] != "glibc") {
			rr = ratio(M[w, A[c], metric], M[w, "glibc", metric])
			printf " %s", (rr == "" ? "-" : sprintf("%.4f", rr)) > file
		}
		printf "\n" > file
	}
	close(file)
}

function check_sums(    r, c, w, a, s, seen, n, msg) {
	for (r = 1; r <= nwl; r++) {
		w = W[r]; n = 0; msg = ""
		split("", seen)
		for (c = 1; c <= nalloc; c++) {
			a = A[c]
			s = SUMS[w, a]
			if (s == "") continue
			msg = msg " " a "=" s
			if (!(s in seen)) { seen[s] = 1; n++ }
		}
		if (n > 1) out("WARNING: " w ": checksums differ between allocators (a wrong result):" msg)
	}
}

BEGIN {
	nalloc = split(allocs, A, " ")
	npeer = 0; has_bm = 0
	for (c = 1; c <= nalloc; c++) {
		if (A[c] == "basemalloc") has_bm = 1
		else if (A[c] == "basemalloc-hardened") has_hd = 1
		else if (A[c] ~ /^(jemalloc|mimalloc|tcmalloc)$/) P[++npeer] = A[c]
	}
	cbp = has_bm && npeer ? nalloc + 1 : 0
	chd = has_bm && has_hd ? nalloc + (cbp ? 2 : 1) : 0
	nmet = split("wall cpu peak end minflt meta_mapped meta_resident", MET, " ")
	COL["wall"] = 5; COL["cpu"] = 6; COL["peak"] = 9; COL["end"] = 10
	COL["minflt"] = 11; COL["meta_mapped"] = 13; COL["meta_resident"] = 14
	printf "" > (outdir "/tables.txt")
}

NR == 1 && $1 == "run" { next }
{
	RAW[++nraw] = $0
	w = $2; a = $3
	if (!(w in wseen)) { wseen[w] = 1; W[++nwl] = w }
	if ($4 != "exit:0" && !(anyexit && $4 ~ /^exit:/)) { fail[w, a]++; laststatus[w, a] = $4; next }
	ok[w, a]++
	for (k = 1; k <= nmet; k++) {
		v = $(COL[MET[k]])
		if (v == "") continue
		key = w SUBSEP a SUBSEP MET[k]
		vals[key, ++cnt[key]] = v + 0
	}
	if ($15 != "-" && $15 != "") {
		if (SUMS[w, a] == "") SUMS[w, a] = $15
		else if (SUMS[w, a] != $15) SUMS[w, a] = SUMS[w, a] "|" $15
	}
}

END {
	if (nraw == 0) {
		out(title)
		out("no runs recorded")
		exit 1
	}
	for (r = 1; r <= nwl; r++) for (c = 1; c <= nalloc; c++) for (k = 1; k <= nmet; k++)
		M[W[r], A[c], MET[k]] = median(W[r] SUBSEP A[c] SUBSEP MET[k])
	out(title)
	out("Each cell: median over the successful runs, and in parentheses the ratio to glibc (lower is better).")
	if (chd) out("\"hardened vs default\": basemalloc-hardened's median / basemalloc's (the hardened build's cost).")
	if (has_bm && npeer) out("\"basemalloc vs best peer\": basemalloc's median / the best peer's (" P[1] (npeer > 1 ? ", ..." : "") "); below 1.00 basemalloc is ahead.")
	table("wall", "Wall time (s)")
	table("cpu", "CPU time, user+sys (s)")
	table("peak", "Peak RSS (MiB)")
	table("end", "RSS at the end (MiB; the workload's own figure after it freed everything, else the last sample)")
	table("minflt", "Minor page faults")
	meta_table()
	out("")
	anyfail = 0
	for (r = 1; r <= nwl; r++) for (c = 1; c <= nalloc; c++) if (fail[W[r], A[c]] > 0) {
		out(sprintf("note: %s under %s failed %d of %d runs (last: %s); \"!\" marks such cells.", W[r], A[c], fail[W[r], A[c]], fail[W[r], A[c]] + ok[W[r], A[c]], laststatus[W[r], A[c]]))
		anyfail = 1
	}
	check_sums()
	write_summary()
	write_json()
	write_dat("wall", outdir "/ratio-time.dat")
	write_dat("peak", outdir "/ratio-peak.dat")
	close(outdir "/tables.txt")
}

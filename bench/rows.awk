# bench/rows.awk: builds bench's raw CSV (columns: BENCH_CSV_HEADER in
# lib.sh) from the list of runs that bench/run or bench/compare made. Each
# input line is "RUN<TAB>WORKLOAD<TAB>ALLOCATOR<TAB>LOGBASE"; LOGBASE.res is
# measure's result (key=value lines), LOGBASE.out and LOGBASE.err the
# workload's stdout and stderr. The workload's own end_rss_kib, idle_s and
# bm_meta_* lines take precedence over the sampled figures; idle_s is taken
# off the wall time. One awk process for all runs (process creation is the
# expensive part of a short run).
BEGIN { FS = "\t" }

function row(run, wl, alloc, base,    line, m, k, end_rss, idle, mapped, resident, sum, status, f, res, out, err) {
	res = base ".res"; out = base ".out"; err = base ".err"
	split("", m)
	while ((getline line < res) > 0) {
		k = index(line, "=")
		if (k > 0) m[substr(line, 1, k - 1)] = substr(line, k + 1)
	}
	close(res)
	end_rss = ""; idle = 0; mapped = ""; resident = ""; sum = "-"
	while ((getline line < err) > 0) {
		if (line ~ /^end_rss_kib=/) { sub(/^end_rss_kib=/, "", line); end_rss = line }
		else if (line ~ /^idle_s=/) { sub(/^idle_s=/, "", line); idle = line + 0 }
		else if (line ~ /^bm_meta_mapped=/) {
			split(line, f, /[ =]/)
			mapped = f[2]; resident = f[4]
		}
	}
	close(err)
	while ((getline line < out) > 0)
		if (line ~ /^checksum=/) { sub(/^checksum=/, "", line); sum = line }
	close(out)
	status = ("status" in m) ? m["status"] : "measure-failed"
	if (status == "exit:0" && ("driver_status" in m) && m["driver_status"] != "exit:0")
		status = "driver-" m["driver_status"]
	if (end_rss == "") end_rss = m["last_sampled_kib"]
	printf "%s,%s,%s,%s,%.6f,%.6f,%.6f,%.6f,%s,%s,%s,%s,%s,%s,%s\n",
		run, wl, alloc, status, m["wall_s"] - idle, m["user_s"] + m["sys_s"],
		m["user_s"], m["sys_s"], m["maxrss_kib"] + 0, end_rss + 0,
		m["minflt"] + 0, m["majflt"] + 0, mapped, resident, sum
}

NF >= 4 { row($1, $2, $3, $4) }

# bench/row.awk: turns one measure result file (key=value lines) plus the
# workload's stdout (out=) and stderr (err=) into one CSV row of bench's raw
# results (columns: see BENCH_CSV_HEADER in lib.sh). The workload's own
# end_rss_kib, idle_s and bm_meta_* lines take precedence over the sampled
# figures; idle_s is taken off the wall time.
BEGIN { FS = "=" }
{ m[$1] = $2 }
END {
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
	wall = m["wall_s"] - idle
	printf "%s,%s,%s,%s,%.6f,%.6f,%.6f,%.6f,%s,%s,%s,%s,%s,%s,%s\n",
		run, wl, alloc, status, wall, m["user_s"] + m["sys_s"], m["user_s"],
		m["sys_s"], m["maxrss_kib"] + 0, end_rss + 0, m["minflt"] + 0,
		m["majflt"] + 0, mapped, resident, sum
}

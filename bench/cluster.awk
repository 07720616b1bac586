# SPDX-License-Identifier: ISC
# cluster.awk: bench/cluster's tables and targets, from results.tsv and
# the per-login lines of bench/clusterdrive (steady-N.tsv, burst-N.tsv).
# Percentiles are nearest-rank; times in ms. A login's time "on every
# host" is the largest of its times on the three hosts (its relay open
# everywhere); -1 on a host makes it lost.

function isort(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
}
function pct(a, n, p,    k) {
	if (n == 0)
		return -1
	k = int(p * n + 0.999999)
	if (k < 1) k = 1
	return a[k]
}
function ms(ns) { return sprintf("%.1f", ns / 1e6) }
function commas(v,    s) {
	s = sprintf("%d", v)
	while (s ~ /[0-9][0-9][0-9][0-9]/)
		sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
	return s
}
function kib(k) { return commas(k) }
function verdict(ok) { return ok ? "MET" : "MISSED" }

FILENAME ~ /results\.tsv$/ {
	if ($1 == "resync") {
		rs_ms[$2, $3] = $4; rs_kb[$2, $3] = $5; list[$2] = $6
	} else if ($1 == "idle") {
		idle[$2, $3] = $4; hz = $5
	} else if ($1 == "floor") {
		fl_notify[$2] = $3; fl_rebuild[$2] = $4
	} else if ($1 == "mem") {
		mem[$2, $3, $4] = $5
	} else if ($1 == "anon") {
		anon[$2, $3, $4] = $5
	} else if ($1 == "warnings") {
		warn[$2, $3] = $4
	} else if ($1 ~ /^load/) {
		ld[$1, $2] = $3 " " $4 " " $5
		if ($1 == "loadend") ld["end"] = $2 " " $3 " " $4
	} else if ($1 == "renames") {
		ren[$2, $3] = $4 " / " $5 " / " $6
	} else if ($1 == "warnlog") {
		warnlog = $2
	}
	next
}
{
	n = FILENAME
	sub(/.*-/, "", n); sub(/\.tsv$/, "", n)
	kind = FILENAME ~ /steady-/ ? "steady" : FILENAME ~ /mixed-/ ? "mixed" : "burst"
	if (!(n in seen_size)) { seen_size[n] = 1; sizes[++nsizes] = n }
	nl[kind, n]++
	if ($5 != 0) failed[kind, n]++
	if (kind == "burst" && $4 > lastend[n]) lastend[n] = $4
	worst = 0
	for (h = 0; h < 3; h++) {
		s = $(6 + h)
		if (s == -1) { lost[kind, n]++; worst = -1; continue }
		if (worst >= 0 && s - $3 > worst) worst = s - $3
		if (kind == "burst") {
			if (s > last[n]) last[n] = s
			continue
		}
		if (h == $2) {
			own[kind, n, ++nown[kind, n]] = s - $3
		} else {
			x[kind, n, ++nx[kind, n]] = s - $3
			if ($4 >= 0) xe[kind, n, ++nxe[kind, n]] = s - $4
		}
	}
	if (kind != "burst" && worst >= 0)
		every[kind, n, ++nevery[kind, n]] = worst
}

# The median of every[kind, n, from..to].
function submed(kind, n, from, to,    a, i, c) {
	c = 0
	for (i = from; i <= to; i++) a[++c] = every[kind, n, i]
	isort(a, c)
	return pct(a, c, .5)
}

function row(label, kind, n, arr, cnt,    a, i) {
	for (i = 1; i <= cnt; i++) a[i] = arr[kind, n, i]
	isort(a, cnt)
	printf "| %s | %s | %s | %s | %s | %s |\n", label, commas(cnt), ms(pct(a, cnt, .5)),
		ms(pct(a, cnt, .9)), ms(pct(a, cnt, .99)), ms(pct(a, cnt, 1))
	med[kind, label, n] = pct(a, cnt, .5); p99[kind, label, n] = pct(a, cnt, .99)
}

END {
	hosts[1] = "A"; hosts[2] = "B"; hosts[3] = "C"
	print "## The floor: a NOTIFY round trip plus one local rebuild"
	print ""
	print "Medians of " "the same run: bench/notifyrtt (LISTEN on one connection, NOTIFY from"
	print "another, until the notification is read) and clearopensmtp -f at that"
	print "list size (bench/driver, as table 2 of bench/run)."
	print ""
	print "| open addresses | NOTIFY round trip ms | rebuild ms | floor ms |"
	print "|---:|---:|---:|---:|"
	for (i = 1; i <= nsizes; i++) {
		n = sizes[i]
		floor_ns[n] = fl_notify[n] + fl_rebuild[n]
		printf "| %s | %s | %s | %s |\n", commas(n), ms(fl_notify[n]), ms(fl_rebuild[n]), ms(floor_ns[n])
	}
	print ""
	print "## Steady load: " rate " logins a second spread over A, B and C"
	print ""
	print "Login k on host k mod 3 through the real chain (checkpw-roam checkpw-bench"
	print "noop), one every " 1000 / rate " ms for " seconds " s, whether the earlier ones ended or"
	print "not. For each login from a new address and each host, the time until"
	print "that host's tcp.smtp.cdb has the address (looked up with tinycdb at each"
	print "rename of the cdb, inotify, as tcpserver -x would on a new connection)."
	print "Two loads: every login from a new address (the worst case: a rebuild"
	print "on every host for each), and one in " mix " (the others from addresses"
	print "listed already: a refresh in place everywhere). A list of 100,000"
	print "addresses that expire after 180 minutes takes about 9 new ones a second."
	print ""
	for (i = 1; i <= nsizes; i++) {
		n = sizes[i]
		for (kk = 1; kk <= 2; kk++) {
			kind = kk == 1 ? "steady" : "mixed"
			printf "### %s open addresses, %s (load average before and after: %s; %s)\n\n", commas(n),
				kind == "steady" ? "every login new" : "1 login in " mix " new", ld["load" kind, n], ld["load" kind "end", n]
			print "| from the login's start (fork) to the relay open | logins or pairs | median ms | p90 ms | p99 ms | max ms |"
			print "|---|---:|---:|---:|---:|---:|"
			row("on every host (the target)", kind, n, every, nevery[kind, n])
			row("on another host", kind, n, x, nx[kind, n])
			row("on another host, from the login's end", kind, n, xe, nxe[kind, n])
			row("on the login's own host", kind, n, own, nown[kind, n])
			printf "\nNew addresses %s, failed logins %d; host pairs never relayed (lost): %d;\n", commas(nl[kind, n]), failed[kind, n], lost[kind, n]
			printf "rebuilds (renames of the cdb) on A / B / C: %s.\n", ren[kind, n]
			third = int(nevery[kind, n] / 3)
			first[kind, n] = submed(kind, n, 1, third)
			lastt[kind, n] = submed(kind, n, nevery[kind, n] - third + 1, nevery[kind, n])
			printf "The median on every host is %.1f× the floor (%s ms). The median of the first third of the logins: %s ms; of the last third: %s ms.\n\n", med[kind, "on every host (the target)", n] / floor_ns[n], ms(floor_ns[n]), ms(first[kind, n]), ms(lastt[kind, n])
		}
	}
	print "## Burst: " burst " new addresses on each of A, B and C at once"
	print ""
	print "" clients " logins at once on each host, each followed by the next as it ends;"
	print "the times from the first login's start to the end of the last login,"
	print "and to the last address in the last host's cdb; and from the end of"
	print "the last login to that (the target: the logins themselves are each"
	print "host's own work, as on a single host)."
	print ""
	print "| open addresses | addresses | logins done, s | all on all 3 hosts, s | after the last login, s | lost (address, host) | failed logins | rebuilds A / B / C | load before |"
	print "|---:|---:|---:|---:|---:|---:|---:|---|---|"
	for (i = 1; i <= nsizes; i++) {
		n = sizes[i]
		printf "| %s | %d | %.2f | %.2f | %.2f | %d | %d | %s | %s |\n", commas(n), nl["burst", n], lastend[n] / 1e9, last[n] / 1e9, (last[n] - lastend[n]) / 1e9, lost["burst", n], failed["burst", n], ren["burst", n], ld["loadburst", n]
	}
	print ""
	print "## roamsync's memory and idle CPU"
	print ""
	print "The resync: A and B start with the list and the database holding the"
	print "same addresses (a restart), C with an empty list (a new host: every"
	print "row is new to it); the three at once, the time until each logs"
	print "\"resynced\". Memory: the private memory's peak"
	print "(Private_Clean + Private_Dirty of /proc/PID/smaps_rollup, sampled every"
	print "2 ms by bench/memwatch: the pages no other process shares) and the kernel's"
	print "peak resident set"
	print "(VmHWM, reset between the phases with /proc/PID/clear_refs 5), which"
	print "also counts the pages of the shared libraries (libpq, OpenSSL, GnuTLS,"
	print "Kerberos, LDAP, libc: about 7 MiB before any work). Limit: 2 × the"
	print "list file + 4 MiB. Idle: CPU ticks (1/" hz " s) over 10 s after the"
	print "resync, with no login."
	print ""
	print "| open addresses | host | resync s | private KiB: resync / new / mixed / burst | VmHWM KiB: resync / new / mixed / burst | limit KiB | idle ticks | warnings |"
	print "|---:|---|---:|---|---|---:|---:|---:|"
	for (i = 1; i <= nsizes; i++) {
		n = sizes[i]
		limit[n] = int(2 * list[n] / 1024) + 4096
		for (j = 1; j <= 3; j++) {
			h = hosts[j]
			m = 0; v = 0
			for (k = 1; k <= 4; k++) {
				ph = k == 1 ? "resync" : k == 2 ? "steady" : k == 3 ? "mixed" : "burst"
				if (anon[n, h, ph] > m) m = anon[n, h, ph]
				hw = ph == "resync" ? rs_kb[n, h] : mem[n, h, ph]
				if (hw > v) v = hw
			}
			if (m > maxanon[n]) maxanon[n] = m
			if (v > maxmem[n]) maxmem[n] = v
			if (idle[n, h] > maxidle) maxidle = idle[n, h]
			printf "| %s | %s%s | %.2f | %s / %s / %s / %s | %s / %s / %s / %s | %s | %d | %d |\n", commas(n), h, h == "C" ? " (new)" : "", rs_ms[n, h] / 1000,
				kib(anon[n, h, "resync"]), kib(anon[n, h, "steady"]), kib(anon[n, h, "mixed"]), kib(anon[n, h, "burst"]),
				kib(rs_kb[n, h]), kib(mem[n, h, "steady"]), kib(mem[n, h, "mixed"]), kib(mem[n, h, "burst"]), kib(limit[n]), idle[n, h], warn[n, h]
		}
	}
	print ""
	print "## Targets"
	print ""
	print "From a login's start (taken in its own child, just before it forks the"
	print "chain) to its relay on every host. The floor: the same run's NOTIFY round"
	print "trip plus one build (clearopensmtp -f) of that size."
	print ""
	print "| target | figure | verdict |"
	print "|---|---|---|"
	for (i = 1; i <= nsizes; i++) {
		n = sizes[i]
		m = med["mixed", "on every host (the target)", n]; p = p99["mixed", "on every host (the target)", n]
		printf "| %s, 1 login in %s new: median from a login to its relay on every host ≤ 2 × the floor | %s ms, floor %s ms: %.2f× | %s |\n", commas(n), mix, ms(m), ms(floor_ns[n]), (floor_ns[n] > 0 ? m / floor_ns[n] : 0), verdict(m >= 0 && floor_ns[n] > 0 && m <= 2 * floor_ns[n] && lost["mixed", n] == 0)
		printf "| %s, 1 login in %s new: p99 ≤ 1 s | %s ms (%d lost) | %s |\n", commas(n), mix, ms(p), lost["mixed", n], verdict(p >= 0 && p <= 1e9 && lost["mixed", n] == 0)
		lim = n <= 10000 ? 1 : 3
		p = p99["steady", "on every host (the target)", n]
		printf "| %s, every login new: p99 from a login to its relay on every host ≤ %d s | %s ms (%d lost) | %s |\n", commas(n), lim, ms(p), lost["steady", n], verdict(p >= 0 && p <= lim * 1e9 && lost["steady", n] == 0)
		for (kk = 1; kk <= 2; kk++) {
			kind = kk == 1 ? "mixed" : "steady"
			printf "| %s, %s: no backlog, the median of the last third ≤ 1.5 × the first third's | %s ms vs %s ms: %.2f× | %s |\n", commas(n), (kind == "mixed" ? "1 login in " mix " new" : "every login new"), ms(lastt[kind, n]), ms(first[kind, n]), (first[kind, n] > 0 ? lastt[kind, n] / first[kind, n] : 0), verdict(first[kind, n] > 0 && lastt[kind, n] <= 1.5 * first[kind, n])
		}
		printf "| %s: roamsync's private memory (Private_Clean + Private_Dirty) < 2 × list + 4 MiB | %s against %s KiB | %s |\n", commas(n), kib(maxanon[n]), kib(limit[n]), verdict(maxanon[n] < limit[n] && maxanon[n] > 0)
	}
	print ""
	printf "Not targets: roamsync's largest VmHWM (the shared libraries' pages too)"
	for (i = 1; i <= nsizes; i++)
		printf "%s %s KiB at %s (limit %s KiB)", (i > 1 ? ";" : ":"), kib(maxmem[sizes[i]]), commas(sizes[i]), kib(limit[sizes[i]])
	printf ". roamsync idle: %d ticks in 10 s (the largest; 0 expected).\n", maxidle
	print ""
	printf "Load average at the end: %s. Warnings in the logins' log: %d.\n", ld["end"], warnlog
}

# cluster.awk: bench/cluster's tables and targets, from results.tsv and
# the per-login lines of bench/clusterdrive (steady-N.tsv, burst-N.tsv).
# Percentiles are nearest-rank; times in ms.

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
	for (h = 0; h < 3; h++) {
		s = $(6 + h)
		if (s == -1) { lost[kind, n]++; continue }
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
			print "| from the login's start (fork) to the relay open | pairs | median ms | p90 ms | p99 ms | max ms |"
			print "|---|---:|---:|---:|---:|---:|"
			row("on another host (the target)", kind, n, x, nx[kind, n])
			row("on another host, from the login's end", kind, n, xe, nxe[kind, n])
			row("on the login's own host", kind, n, own, nown[kind, n])
			printf "\nNew addresses %s, failed logins %d; host pairs never relayed (lost): %d;\n", commas(nl[kind, n]), failed[kind, n], lost[kind, n]
			printf "rebuilds (renames of the cdb) on A / B / C: %s.\n", ren[kind, n]
			printf "The median on another host is %.1f× the floor (%s ms).\n\n", med[kind, "on another host (the target)", n] / floor_ns[n], ms(floor_ns[n])
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
	print "\"resynced\". Memory: the private memory's peak (RssAnon, sampled"
	print "every 2 ms by bench/memwatch) and the kernel's peak resident set"
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
	print "## Targets (issue 13)"
	print ""
	print "| target | figure | verdict |"
	print "|---|---|---|"
	for (i = 1; i <= nsizes; i++) {
		n = sizes[i]
		for (kk = 1; kk <= 2; kk++) {
			kind = kk == 1 ? "steady" : "mixed"
			lbl = kind == "steady" ? "every login new" : "1 in " mix " new"
			m = med[kind, "on another host (the target)", n]; p = p99[kind, "on another host (the target)", n]
			printf "| %s, %s: login on one host to relay on another, median ≤ 50 ms | %s ms (floor %s ms) | %s |\n", commas(n), lbl, ms(m), ms(floor_ns[n]), verdict(m <= 50e6 && m >= 0)
			printf "| %s, %s: the same, p99 ≤ 1 s | %s ms | %s |\n", commas(n), lbl, ms(p), verdict(p <= 1e9 && p >= 0)
		}
		printf "| %s: burst of 3 × %d: all on all 3 hosts ≤ 5 s after the last login, 0 lost | %.2f s (%.2f s from the first login), %d lost | %s |\n", commas(n), burst, (last[n] - lastend[n]) / 1e9, last[n] / 1e9, lost["burst", n], verdict(last[n] - lastend[n] <= 5e9 && lost["burst", n] == 0 && nl["burst", n] == 3 * burst)
		printf "| %s: roamsync's private memory < 2 × list + 4 MiB | %s against %s KiB | %s |\n", commas(n), kib(maxanon[n]), kib(limit[n]), verdict(maxanon[n] < limit[n] && maxanon[n] > 0)
		printf "| %s: the same, all its resident pages (VmHWM: shared libraries too) | %s against %s KiB | %s |\n", commas(n), kib(maxmem[n]), kib(limit[n]), verdict(maxmem[n] < limit[n])
	}
	printf "| roamsync idle: no CPU | %d ticks in 10 s (largest) | %s |\n", maxidle, verdict(maxidle == 0)
	print ""
	printf "Load average at the end: %s. Warnings in the logins' log: %d.\n", ld["end"], warnlog
}

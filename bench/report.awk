# SPDX-License-Identifier: ISC
# report.awk: the benchmark's tables, in Markdown, from bench/run's files.
# Usage: awk -f report.awk META RESULTS
#   META     "key<TAB>value" lines: sizes, file sizes, peak memory figures
#   RESULTS  the driver's lines: NAME REP NS STATUS MAXRSS CDBREN LISTREN
#            WARN CHECK, NAME being WORKLOAD:SIZE:CONTENDER
# Medians are of all repetitions; "added" is the median of the differences,
# repetition by repetition, from the chain without a link in the same
# round (the contenders alternate, so the pairs ran side by side). The
# closing tables: the old design (628c6cd) against the current build, and
# the targets, each MET or MISSED from this run's figures.
BEGIN {
	FS = "\t"
	label["base"] = "chain without a link (checkpw-bench, noop)"
	label["floor0"] = "design floor: no-op link (floorlink), chain"
	label["floorio:refresh"] = "design floor + refresh I/O (open, lock, write 10 bytes)"
	label["floorio:newip"] = "design floor + new-address I/O (append + fsync; read tcp.smtp and the list; a cdb-size file written, fsynced, renamed; the directory fsynced)"
	label["awk"] = "awk + tcprules pipeline (bench/awkref after checkpw-bench), chain"
	label["cdbc"] = "cdb -c (tinycdb's tool) writing the new cdb's records, a process (ms, not added)"
	label["floortiny"] = "design floor + I/O, plus cdb -c: the reference of the target (sum of the two rows above)"
	label["roam"] = "**checkpw-roam**, chain"
	label["seed"] = "seed's method (seedref after checkpw-bench), chain"
	label["noindex"] = "A/B: checkpw-roam, open-smtp.index removed before each run (the list read whole, then a build)"
	label["old"] = "A/B: checkpw-roam of 628c6cd, 1.0.0's whole-rewrite pass"
	label["floor"] = "floor (bench/floor, a process)"
	label["floor4k"] = "the same in tinycdb's 4 KB writes, and the directory synced"
	label["cdbfloor"] = "floor with tinycdb (bench/cdbfloor): that cdb's records, already built, through cdb_make_add; the directory synced"
	label["cdbfloor:expiry"] = "floor with tinycdb (bench/cdbfloor): the floor's list work, then the new cdb's records, already built, through cdb_make_add; the directory synced"
	label["clearf"] = "**clearopensmtp -f**"
	label["clear"] = "**clearopensmtp**"
	label["seedr"] = "seed's update_rules (seedref -r: tcprules)"
	label["seedx"] = "seed's clearopensmtp (seedref -x 180)"
	abname["noindex"] = "open-smtp.index removed before each run"
	abname["old"] = "1.0.0, commit 628c6cd"
	nt = 0
}
FNR == NR {
	meta[$1] = $2
	next
}
# A login of a burst with "each": NAME@each REP NS STATUS CLIENT K IP relay=X
$1 ~ /@each$/ {
	k = $1
	sub(/@each$/, "", k)
	ne[k]++
	ems[k, ne[k]] = $3 / 1e6
	erep[k, ne[k]] = $2
	est[k, ne[k]] = $4
	eip[k, ne[k]] = $7
	erelay[k, ne[k]] = $8 == "relay=1"
	next
}
{
	split($1, p, ":")
	k = $1
	if (!(k in cnt))
		cnt[k] = 0
	cnt[k]++
	ms = $3 / 1e6
	# A writer still at work after the chain ended: the burst's time runs
	# to the end of the work; the others are noted in the checks.
	if ($10 > $3) {
		late[k]++
		latems[k, late[k]] = ($10 - $3) / 1e6
		if (p[1] == "burst")
			ms = $10 / 1e6
	}
	val[k, cnt[k]] = ms
	byrep[k, $2] = ms
	# Until every writer the run started is done (the lock free).
	byrepdone[k, $2] = ($10 > $3 ? $10 : $3) / 1e6
	if ($4 != 0)
		bad[k]++
	warn[k] += $8
	if ($5 > rss[k])
		rss[k] = $5
	if ($11 > orss[k])
		orss[k] = $11
	cdbren[k, cnt[k]] = $6
	listren[k, cnt[k]] = $7
	chk[k, cnt[k]] = $9
	status[k, cnt[k]] = $4
}

function commas(n,    s) {
	s = n ""
	while (s ~ /[0-9][0-9][0-9][0-9]/)
		sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
	return s
}
function fmt(x,    a) {
	if (x == "")
		return "–"
	a = x < 0 ? -x : x
	if (a < 10)
		return sprintf("%.2f", x)
	if (a < 100)
		return sprintf("%.1f", x)
	return sprintf("%.0f", x)
}
function ratio(a, b) {
	if (a == "" || b == "" || b == 0)
		return "–"
	return sprintf("%.2f×", a / b)
}
# Sorts s[1..n] in place (insertion sort: n is small).
function sort(s, n,    i, j, t) {
	for (i = 2; i <= n; i++) {
		t = s[i]
		for (j = i - 1; j >= 1 && s[j] > t; j--)
			s[j + 1] = s[j]
		s[j + 1] = t
	}
}
function med(s, n) {
	if (n == 0)
		return ""
	sort(s, n)
	if (n % 2)
		return s[(n + 1) / 2]
	return (s[n / 2] + s[n / 2 + 1]) / 2
}
# Median, minimum and maximum of a contender's times (ms): in M, LO, HI.
function stats(k,    s, i, n) {
	n = cnt[k] + 0
	M = LO = HI = ""
	for (i = 1; i <= n; i++)
		s[i] = val[k, i]
	if (!n)
		return 0
	M = med(s, n)
	LO = s[1]
	HI = s[n]
	return n
}
# The same for the paired differences from contender b: AM, ALO, AHI.
function added(k, b,    s, r, n) {
	AM = ALO = AHI = ""
	n = 0
	for (r = 1; r <= 1000; r++)
		if (((k, r) in byrep) && ((b, r) in byrep))
			s[++n] = byrep[k, r] - byrep[b, r]
	if (!n)
		return 0
	AM = med(s, n)
	ALO = s[1]
	AHI = s[n]
	return n
}
# The same from the end of every writer's work: DM.
function addeddone(k, b,    s, r, n) {
	DM = ""
	n = 0
	for (r = 1; r <= 1000; r++)
		if (((k, r) in byrepdone) && ((b, r) in byrep))
			s[++n] = byrepdone[k, r] - byrep[b, r]
	if (!n)
		return 0
	DM = med(s, n)
	return n
}
function range(m, lo, hi) {
	if (m == "")
		return "–"
	return fmt(m) " (" fmt(lo) "–" fmt(hi) ")"
}
function has(k) {
	return (k in cnt)
}
# Remembers a target's result for the closing table.
function target(name, figure, need, ok) {
	nt++
	tname[nt] = name
	tfig[nt] = figure
	tneed[nt] = need
	tok[nt] = ok == "" ? "NOT MEASURED" : ok == "n/a" ? "n/a" : ok ? "MET" : "MISSED"
}
function max2(a, b) {
	return a + 0 > b + 0 ? a : b
}
function problem(s) {
	probs[++np] = s
}
function note(s) {
	notes[++nn] = s
}
# The largest number in a check line "a=1 b=2": the addresses lost.
function lost(s,    a, n, i, kv, m) {
	if (s == "-" || s == "")
		return ""
	if (s == "check-failed")
		return -1
	m = 0
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) {
		split(a[i], kv, "=")
		if (kv[2] + 0 > m)
			m = kv[2] + 0
	}
	return m
}
# Counts problems in a contender's runs: failures, warnings, losses.
function sanity(k, expect,    i, l, s, e) {
	if (!has(k))
		return
	if (bad[k] && expect == "")
		problem("`" k "`: " bad[k] " of " cnt[k] " runs exited non-zero")
	if (late[k] && k !~ /^(burst|mem|four):/) {
		for (i = 1; i <= late[k]; i++)
			s[i] = latems[k, i]
		note("`" k "`: in " late[k] " of " cnt[k] " runs a writer still held open-smtp.lock or tcp.smtp.cdb.lock when the login ended, for a median of " fmt(med(s, late[k])) " ms more; the times above stop at the login's end")
	}
	if (k ~ /^expiry:[0-9]+:(clear|seed)$/) {
		split(k, e, ":")
		for (i = 1; i <= cnt[k]; i++)
			if (chk[k, i] != "entries=" e[2] / 2)
				problem("`" k "` repetition " i ": " chk[k, i] " after expiry, " e[2] / 2 " expected")
	}
	if (warn[k])
		problem("`" k "`: " warn[k] " warning lines in the log (" meta["warnlog"] ")")
	for (i = 1; i <= cnt[k]; i++) {
		l = lost(chk[k, i])
		if (l == -1)
			problem("`" k "` repetition " i ": the check failed")
		else if (l > 0 && chk[k, i] !~ /^entries=/)
			problem("`" k "` repetition " i ": addresses lost: " chk[k, i])
	}
}

# A login table (refresh, new address): absolute and added.
function login_table(wl, kind, sizes,    ns, sz, i, j, n, who, k, b, f0, w, nw, lab) {
	print "| IPs | contender | login ms: median (min–max) | added ms: median (min–max) | added ÷ design floor |"
	print "|---:|---|---:|---:|---:|"
	ns = split(sizes, sz, " ")
	nw = split("base floor0 floorio roam seed awk old noindex cdbc", w, " ")
	for (i = 1; i <= ns; i++) {
		n = sz[i]
		b = wl ":" n ":base"
		f0 = ""
		if (added(wl ":" n ":floor0", b))
			f0 = AM
		for (j = 1; j <= nw; j++) {
			who = w[j]
			k = wl ":" n ":" who
			if (!has(k))
				continue
			sanity(k)
			stats(k)
			lab = who == "floorio" ? label["floorio:" kind] : label[who]
			if (who == "base") {
				printf "| %s | %s | %s | – | – |\n", commas(n), lab, range(M, LO, HI)
				continue
			}
			if (who == "cdbc") {
				printf "| %s | %s | %s | – | – |\n", commas(n), lab, range(M, LO, HI)
				absm[wl, n, who] = M
				if ((wl, n, "floorio") in addm) {
					addm[wl, n, "floortiny"] = addm[wl, n, "floorio"] + M
					printf "| %s | %s | – | %s | %s |\n", commas(n), label["floortiny"], fmt(addm[wl, n, "floortiny"]), ratio(addm[wl, n, "floortiny"], f0)
				}
				continue
			}
			added(k, b)
			printf "| %s | %s | %s | %s | %s |\n", commas(n), lab, range(M, LO, HI), range(AM, ALO, AHI), ratio(AM, f0)
			addm[wl, n, who] = AM
			absm[wl, n, who] = M
		}
		absm[wl, n, "base"] = stats(b) ? M : ""
	}
}

# A table of processes against a floor (rebuild, expiry).
function proc_table(wl, sizes, whos, filekey,    ns, sz, i, j, nw, w, n, k, f, ft, lab) {
	print "| IPs | cdb bytes | contender | ms: median (min–max) | ÷ floor | ÷ floor with tinycdb | after |"
	print "|---:|---:|---|---:|---:|---:|---|"
	ns = split(sizes, sz, " ")
	nw = split(whos, w, " ")
	for (i = 1; i <= ns; i++) {
		n = sz[i]
		f = ft = ""
		if (stats(wl ":" n ":floor"))
			f = M
		if (stats(wl ":" n ":cdbfloor"))
			ft = M
		for (j = 1; j <= nw; j++) {
			k = wl ":" n ":" w[j]
			if (!has(k))
				continue
			sanity(k)
			stats(k)
			lab = label[w[j]]
			if (wl == "expiry" && w[j] == "seed")
				lab = label["seedx"]
			if (wl == "expiry" && w[j] == "cdbfloor")
				lab = label["cdbfloor:expiry"]
			after = chk[k, 1]
			if (after ~ /^entries=/) {
				sub(/^entries=/, "", after)
				after = commas(after) " entries"
			} else {
				after = "–"
			}
			printf "| %s | %s | %s | %s | %s | %s | %s |\n", commas(n), commas(meta[filekey ":" n]), lab, range(M, LO, HI), w[j] == "floor" ? "1.00×" : ratio(M, f), ft == "" || w[j] == "floor" || w[j] == "floor4k" ? "–" : ratio(M, ft), after
			procm[wl, n, w[j]] = M
		}
	}
}

# The burst table.
function burst_table(n,    w, nw, j, k, i, s, c, l, fails, lmax, m, lo, hi, per, lab, lm, x) {
	nw = split("base floor0 roam seed old", w, " ")
	for (j = 1; j <= nw; j++) {
		k = "burst:" n ":" w[j]
		if (!has(k))
			continue
		sanity(k)
		stats(k)
		for (i = 1; i <= cnt[k]; i++)
			c[i] = cdbren[k, i]
		m = med(c, cnt[k])
		lo = c[1]
		hi = c[cnt[k]]
		for (i = 1; i <= cnt[k]; i++)
			l[i] = listren[k, i]
		lm = med(l, cnt[k])
		fails = 0
		lmax = ""
		for (i = 1; i <= cnt[k]; i++) {
			fails += status[k, i]
			x = lost(chk[k, i])
			if (x != "" && (lmax == "" || x > lmax))
				lmax = x
		}
		lab = label[w[j]]
		printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", commas(n), lab, range(M / 1000, LO / 1000, HI / 1000), fmt(M / 1024), w[j] ~ /^(base|floor0)$/ ? "–" : commas(m) " (" commas(lo) "–" commas(hi) ")", w[j] ~ /^(base|floor0)$/ ? "–" : commas(lm), fails, w[j] ~ /^(base|floor0)$/ ? "–" : (lmax == "" ? "–" : lmax " (" chk[k, cnt[k]] ")")
		burstm[n, w[j]] = M
		burstreb[n, w[j]] = hi
		burstrebm[n, w[j]] = m
		burstlost[n, w[j]] = lmax
		burstfail[n, w[j]] = fails
	}
}

END {
	nsz = split(meta["sizes"], SZ, " ")
	big = meta["largest"]
	split(meta["rules"], RULES, " ")
	at = meta["quick"] ? " (quick run: at " commas(big) ", not 100,000)" : ""

	print "Times in milliseconds unless said; median (min–max) over the repetitions."
	print "Contenders alternate within each round; each has its own directory, set up"
	print "identically; set-ups, checks and an fsync of the file system are outside the"
	print "timed window. \"added\" = the median of the per-repetition differences from the"
	print "chain without a link, measured in the same round. Static rules: " RULES[1] " lines in"
	print "tcp.smtp unless said."
	print ""

	if (has("refresh:" SZ[1] ":base")) {
		print "## 1. Refresh: a login from an address already open"
		print ""
		login_table("refresh", "refresh", meta["sizes"])
		print ""
	}
	if (has("newip:" SZ[1] ":base")) {
		print "## 2. New address: a login from an address not open"
		print ""
		print "The list is put back (and one login from a listed address made) before each"
		print "repetition, untimed, so its size stays as stated."
		print ""
		login_table("newip", "newip", meta["allsizes"])
		print ""
		if (meta["allsizes"] != meta["sizes"])
			print "At " commas(1000000) ": " meta["hugereps"] " repetitions (after one warm-up round), fewer than at the other sizes: each takes seconds.\n"
	}
	if (has("rebuild:" SZ[1] ":floor")) {
		print "## 2b. The rebuild alone: tcp.smtp and the list into tcp.smtp.cdb, as a process"
		print ""
		print "Floor: write a file of the cdb's size, fsync, rename."
		print ""
		proc_table("rebuild", meta["sizes"], "floor floor4k cdbfloor clearf seedr", "cdb")
		print ""
	}
	if (meta["foursize"] != "") {
		four_table("four:" meta["foursize"] ":roam", meta["foursize"])
	}
	if (has("burst:10000:roam") || has("burst:10000:seed")) {
		print "## 3. Burst: 32 clients at once, 32 new addresses each (1,024 logins)"
		print ""
		print "Wall time from the first fork until the last login has ended and no writer"
		print "holds open-smtp.lock. Rebuilds = renames onto"
		print "tcp.smtp.cdb seen by inotify; list writes = renames onto open-smtp. Lost ="
		print "addresses of the burst missing at the end from the cdb (no RELAYCLIENT record),"
		print "from open-smtp, or from clearopensmtp -l (worst repetition)."
		print ""
		print "| IPs | contender | wall s: median (min–max) | ms per login | rebuilds | list writes | failed logins | lost |"
		print "|---:|---|---:|---:|---:|---:|---:|---|"
		burst_table(10000)
		if (meta["largest"] == 100000)
			burst_table(100000)
		if (meta["seedburstestimate"] && ("newip", 100000, "seed") in addm) {
			e = 1024 * addm["newip", 100000, "seed"] / 1000
			printf "| 100,000 | seed's method: **estimate**, not measured: 1,024 × its added cost for one new address (its lock serializes them) | ≈ %s | – | 1,024 | 1,024 | – | – |\n", fmt(e)
			burstm[100000, "seed"] = e * 1000
		}
		print ""
	}
	if (has("expiry:" SZ[1] ":floor")) {
		print "## 4. Expiry: half of the list older than 180 minutes"
		print ""
		print "Floor: lock, read the list, write+fsync+rename the kept half and a file of the"
		print "new cdb's size. \"cdb bytes\" is the new cdb's."
		print ""
		proc_table("expiry", meta["sizes"], "floor cdbfloor clear seed", "halfcdb")
		print ""
	}
	if (("refresh", SZ[1], "roam") in absm || ("newip", SZ[1], "roam") in absm) {
		print "## 5. Login latency: the whole chain, with and without checkpw-roam"
		print ""
		print "The same runs as tables 1 and 2 (medians, ms)."
		print ""
		print "| IPs | client | without a link | with checkpw-roam | difference | with the design-floor link | with the seed's method |"
		print "|---:|---|---:|---:|---:|---:|---:|"
		for (i = 1; i <= nsz; i++)
			for (j = 1; j <= 2; j++) {
				wl = j == 1 ? "refresh" : "newip"
				n = SZ[i]
				if (!((wl, n, "roam") in absm))
					continue
				printf "| %s | %s | %s | %s | %s | %s | %s |\n", commas(n), j == 1 ? "known" : "new", fmt(absm[wl, n, "base"]), fmt(absm[wl, n, "roam"]), fmt(absm[wl, n, "roam"] - absm[wl, n, "base"]), fmt(absm[wl, n, "floor0"]), fmt(absm[wl, n, "seed"])
			}
		print ""
	}
	if (has("rulesnew:10000:roam")) {
		print "## 6. 10,000 static rules (" commas(RULES[2]) " lines of tcp.smtp), 10,000 open addresses"
		print ""
		login_table("rulesnew", "newip", "10000")
		print ""
		proc_table("rulesrebuild", "10000", "floor cdbfloor clearf seedr", "cdb10k")
		print ""
	}
	if (has("busyknown:10000:roam")) {
		print "## 6b. A busy machine: " meta["busyhogs"] " busy loops (one a CPU), 10,000 open addresses"
		print ""
		print "Each CPU runs a shell loop during these runs, as on a loaded server: the"
		print "chain, checkpw-roam's recorder and the floor's child compete with them for"
		print "the CPUs."
		print ""
		print "Known address:"
		print ""
		login_table("busyknown", "refresh", "10000")
		print ""
		print "New address (the list put back before each repetition):"
		print ""
		login_table("busynew", "newip", "10000")
		print ""
	}
	if (meta["memsize"] != "") {
		n = meta["memsize"]
		lb = meta["list:" n]
		lim = (2 * lb + 1048576) / 1024
		print "## 7. Peak memory at " commas(n) " open addresses"
		print ""
		printf "List file: %s KiB. Limit: 2 × the list + 1 MiB = %s KiB. Figures include the\n", commas(int(lb / 1024)), commas(int(lim))
		print "driver's forked copy (the first row). Maximum over the repetitions."
		print ""
		print "| process | how it is measured | peak RSS KiB | within the limit |"
		print "|---|---|---:|---|"
		memrow("measurement floor (driver's fork + rssprobe)", "rssprobe alone", meta["rss:probe:self"], lim, 1)
		memrow("checkpw-roam before authentication", "rssprobe as the checkpassword", meta["rss:before:self"], lim)
		memrow("checkpw-roam, both runs (and checkpw-bench)", "rssprobe as the session: its own maximum", meta["rss:known:self"], lim)
		# The recorder is the chain's sibling (CLONE_PARENT), which the
		# driver reaps; or the link's child, which rssprobe sees reaped.
		memrow("the recorder, known address", "wait4 in the driver, which reaps it (or rssprobe as the session, if the link reaped it)", max2(orss["mem:" n ":known"], meta["rss:known:children"]), lim)
		memrow("the recorder, new address", "the same, after a new address", max2(orss["mem:" n ":new"], meta["rss:new:children"]), lim)
		memrow("clearopensmtp, expiring half", "wait4", rss["mem:" n ":clear"], lim)
		memrow("clearopensmtp -f", "wait4", rss["mem:" n ":clearf"], lim)
		print ""
	}

	nall = split(meta["allsizes"], ALL, " ")
	if (meta["ab"] && (has("refresh:10000:noindex") || has("refresh:10000:old") || has("newip:10000:old") || has("burst:10000:old") || meta["rss:newold:children"] != "")) {
		print "## A/B: the one builder against 1.0.0's whole-rewrite pass, and the index"
		print ""
		print "Each row pairs the current build with a variant run in the same rounds"
		print "(alternated, same data, same set-up; the rows are those of the tables above)."
		print "The old design is 628c6cd (1.0.0): a new address rewrote the list, the index"
		print "and the cdb in one pass under open-smtp.lock, and a login that found the lock"
		print "taken journaled its address for the pass that held it. \"login\" is the"
		print "added cost as in tables 1 and 2; \"work\" is the same until no writer holds"
		print "open-smtp.lock or tcp.smtp.cdb.lock. A ratio above 1× is what the current"
		print "build saves."
		print ""
		print "| what | variant | workload | IPs | figure | current build | variant | variant ÷ current |"
		print "|---|---|---|---:|---|---:|---:|---:|"
		for (i = 1; i <= nall; i++)
			ab_login("the one builder", "old", "newip", "new address", ALL[i])
		ab_burst("the one builder", "old", 10000)
		for (i = 1; i <= nsz; i++)
			ab_login("the one builder", "old", "refresh", "refresh (known address)", SZ[i])
		ab_mem("the one builder", "new", "newold", "peak RSS KiB of the recorder, new address")
		ab_mem("the one builder", "known", "knownold", "peak RSS KiB of the recorder, known address")
		ab_memrss("the one builder", "clearf", "clearfold", "peak RSS KiB of clearopensmtp -f")
		for (i = 1; i <= nsz; i++)
			ab_login("open-smtp.index", "noindex", "refresh", "refresh (known address)", SZ[i])
		print ""
	}

	# The targets, from this run's figures.
	newip_vs("seed", 10000, 2.5)
	newip_vs("seed", 100000, 4)
	for (i = 1; i <= nall; i++)
		newip_vs("awk", ALL[i], 1)
	newip_floor(100000)
	newip_floor(1000000)
	relay_open_target()
	four_target(1000000)
	if ((10000, "roam") in burstm && (10000, "seed") in burstm) {
		a = burstm[10000, "roam"]
		s = burstm[10000, "seed"]
		target("burst of 1,024 new addresses at 10,000: the seed's wall time ≥ 4 × checkpw-roam's", "seed " fmt(s / 1000) " s, checkpw-roam " fmt(a / 1000) " s: " ratio(s, a), "≥ 4×", s >= 4 * a)
	} else {
		target("burst of 1,024 new addresses at 10,000: the seed's wall time ≥ 4 × checkpw-roam's", "–", "≥ 4×", "")
	}
	for (i = 0; i < 2; i++) {
		n = i ? 100000 : 10000
		if (!((n, "roam") in burstm)) {
			if (n == 10000)
				target("burst at 10,000: 0 addresses lost, 0 failed logins", "–", "0", "")
			continue
		}
		l = burstlost[n, "roam"]
		target("burst at " commas(n) ": 0 addresses lost, 0 failed logins", (l == "" ? "?" : l) " lost, " burstfail[n, "roam"] " failed", "0", l == 0 && l != "" && burstfail[n, "roam"] == 0)
	}
	n = "refresh"
	if ((n, big, "roam") in addm && (n, big, "floorio") in addm) {
		a = addm[n, big, "roam"]
		f = addm[n, big, "floorio"]
		target("refresh at 100,000" at ": added ≤ 1.25 × the design floor's (the link + the refresh's I/O)", "checkpw-roam " fmt(a) " ms (login " fmt(absm[n, big, "roam"]) "), floor " fmt(f) " ms (login " fmt(absm[n, big, "floorio"]) "): " ratio(a, f) "; against the no-op link alone (" fmt(addm[n, big, "floor0"]) " ms): " ratio(a, addm[n, big, "floor0"]), "≤ 1.25×", f > 0 && a <= 1.25 * f)
	} else {
		target("refresh at 100,000" at ": added ≤ 1.25 × the design floor's", "–", "≤ 1.25×", "")
	}
	if (meta["memsize"] != "") {
		m = 0
		split("before:self known:self known:children new:children", mk, " ")
		for (i = 1; i <= 4; i++)
			if (meta["rss:" mk[i]] + 0 > m)
				m = meta["rss:" mk[i]] + 0
		if (orss["mem:" meta["memsize"] ":known"] > m)
			m = orss["mem:" meta["memsize"] ":known"]
		if (orss["mem:" meta["memsize"] ":new"] > m)
			m = orss["mem:" meta["memsize"] ":new"]
		if (rss["mem:" meta["memsize"] ":clear"] > m)
			m = rss["mem:" meta["memsize"] ":clear"]
		if (rss["mem:" meta["memsize"] ":clearf"] > m)
			m = rss["mem:" meta["memsize"] ":clearf"]
		if (meta["memsize"] == 100000)
			target("peak memory at 100,000: every checkpw-roam process < 2 × list + 1 MiB", commas(m) " KiB (largest) vs " commas(int(lim)) " KiB", "<", m > 0 && m < lim)
		else
			target("peak memory at 100,000 (quick run: measured at " commas(meta["memsize"]) ", where the limit, meant for 100,000, is below a dynamic program's own size)", commas(m) " KiB (largest) vs " commas(int(lim)) " KiB", "<", "n/a")
	} else {
		target("peak memory at 100,000: every checkpw-roam process < 2 × list + 1 MiB", "–", "<", "")
	}

	print "## Targets"
	print ""
	print "| target | this run | required | result |"
	print "|---|---|---|---|"
	for (i = 1; i <= nt; i++)
		printf "| %s | %s | %s | %s |\n", tname[i], tfig[i], tneed[i], tok[i]
	print ""
	for (k in cnt)
		if (k ~ /^mem:/)
			sanity(k, k ~ /:before$/ ? "exit 1 expected" : "")
	print "## Checks"
	print ""
	if (!np) {
		print "Every run exited 0 (rssprobe as checkpassword: 1, as designed), logged no"
		print "warning, and lost no address."
	} else {
		for (i = 1; i <= np; i++)
			print "- " probs[i]
	}
	if (nn) {
		print ""
		print "Work that went on after the login ended (for an address open already the"
		print "link finds its answer in the cdb before the password, and the recorder's"
		print "refresh follows; for a new one the recorder answers once the cdb has the"
		print "address, and the build stamp, the index when due and the log line follow"
		print "under the build lock; 628c6cd's recorder answered once its pass had"
		print "committed, and its journal's clean-up followed):"
		print ""
		for (i = 1; i <= nn; i++)
			print "- " notes[i]
	}
	print ""
	print "Load average at the start: " meta["loadstart"] "; at the end: " meta["loadend"] "."
	split(meta["loadstart"] " " meta["loadend"], la, " ")
	if (la[1] > meta["nproc"] / 2) {
		print ""
		print "**The machine was busy when the run started** (load average above half its " meta["nproc"]
		print "cores): the figures are noisy; run again on a quiet machine before reading the"
		print "targets. (The load at the end includes the benchmark's own, the burst's above all.)"
	}
}

# A/B rows of a login workload at size n: the current build (roam) and
# variant v, login and work.
function ab_login(file, v, wl, what, n,    c, x, b, cur, var) {
	c = wl ":" n ":roam"
	x = wl ":" n ":" v
	b = wl ":" n ":base"
	if (!has(c) || !has(x) || !has(b))
		return
	added(c, b)
	cur = AM
	added(x, b)
	var = AM
	printf "| %s | %s | %s | %s | login: added ms | %s | %s | %s |\n", file, abname[v], what, commas(n), fmt(cur), fmt(var), ratio(var, cur)
	addeddone(c, b)
	cur = DM
	addeddone(x, b)
	var = DM
	printf "| %s | %s | %s | %s | work: added ms | %s | %s | %s |\n", file, abname[v], what, commas(n), fmt(cur), fmt(var), ratio(var, cur)
}

# A/B rows of the burst at size n: wall time and rebuilds (medians).
function ab_burst(file, v, n,    cur, var) {
	if (!((n, "roam") in burstm) || !((n, v) in burstm))
		return
	cur = burstm[n, "roam"] / 1000
	var = burstm[n, v] / 1000
	printf "| %s | %s | burst, 1,024 new addresses | %s | wall s | %s | %s | %s |\n", file, abname[v], commas(n), fmt(cur), fmt(var), ratio(var, cur)
	cur = burstrebm[n, "roam"]
	var = burstrebm[n, v]
	printf "| %s | %s | burst, 1,024 new addresses | %s | rebuilds | %s | %s | %s |\n", file, abname[v], commas(n), commas(cur), commas(var), ratio(var, cur)
}

# A new address's login returns once its relay is open: after every run of
# checkpw-roam that adds one address (tables 2, 6, 6b), the address has a
# RELAYCLIENT record in tcp.smtp.cdb (the check's "cdb=0").
function relay_open_target(    k, i, runs, open, c) {
	runs = open = 0
	for (k in cnt) {
		if (k !~ /^(newip|rulesnew|busynew):[0-9]+:roam$/)
			continue
		for (i = 1; i <= cnt[k]; i++) {
			runs++
			c = " " chk[k, i] " "
			if (status[k, i] == 0 && c ~ / cdb=0 /)
				open++
		}
	}
	if (!runs)
		target("new address: the relay open when the login returns", "–", "every run", "")
	else
		target("new address: the relay open when the login returns", open " of " runs " runs (tables 2, 6, 6b) exited 0 with the address's RELAYCLIENT record in the cdb, checked right after the run", "every run", open == runs)
}

function memrow(what, how, kb, lim, isfloor) {
	if (kb == "") {
		printf "| %s | %s | – | – |\n", what, how
		return
	}
	printf "| %s | %s | %s | %s |\n", what, how, commas(kb), isfloor ? "–" : (kb < lim ? "yes" : "**no**")
}

# New address at size n: the contender's added cost ≥ x × checkpw-roam's
# (x = 1: strictly more, "cheaper than").
function newip_vs(who, n, x,    a, o, name, lab) {
	lab = who == "seed" ? "the seed's method" : "the awk + tcprules pipeline"
	if (x == 1)
		name = "new address at " commas(n) ": cheaper than " lab
	else
		name = "new address at " commas(n) ": " lab " ≥ " x " × checkpw-roam's added cost"
	if (!(("newip", n, "roam") in addm) || !(("newip", n, who) in addm)) {
		if (n != 100 || who == "seed")
			target(name, n == 100000 && meta["quick"] ? "– (quick run: no 100,000)" : "–", x == 1 ? "> 1×" : "≥ " x "×", "")
		else
			target(name, "–", "> 1×", "")
		return
	}
	a = addm["newip", n, "roam"]
	o = addm["newip", n, who]
	target(name, (who == "seed" ? "seed" : "awk") " " fmt(o) " ms added (login " fmt(absm["newip", n, who]) "), checkpw-roam " fmt(a) " ms (login " fmt(absm["newip", n, "roam"]) "): " ratio(o, a), x == 1 ? "> 1×" : "≥ " x "×", x == 1 ? o > a : (a > 0 ? o >= x * a : o > 0))
}

# New address at size n: checkpw-roam's added cost ≤ 1.5 × (the design
# floor's added cost with its I/O + cdb -c of the same records).
function newip_floor(n,    a, f, name) {
	name = "new address at " commas(n) ": ≤ 1.5 × (the design floor + cdb -c of the same records)"
	if (!(("newip", n, "roam") in addm) || !(("newip", n, "floortiny") in addm)) {
		target(name, "–", "≤ 1.5×", "")
		return
	}
	a = addm["newip", n, "roam"]
	f = addm["newip", n, "floortiny"]
	target(name, "checkpw-roam " fmt(a) " ms added (login " fmt(absm["newip", n, "roam"]) "), floor " fmt(addm["newip", n, "floorio"]) " + cdb -c " fmt(absm["newip", n, "cdbc"]) " = " fmt(f) " ms: " ratio(a, f) (n == 1000000 ? " (" meta["hugereps"] " repetitions)" : ""), "≤ 1.5×", f > 0 && a <= 1.5 * f)
}

# The four logins behind a rebuild: a table of each repetition.
function four_table(k, n,    i, r, line, cntr, rel, s, mx, all) {
	if (!ne[k])
		return
	sanity(k)
	print "## 2c. Four new addresses at once, behind a running clearopensmtp -f, at " commas(n)
	print ""
	print "A clearopensmtp -f is started first, and once it holds tcp.smtp.cdb.lock (its"
	print "build running), four logins from new addresses start at once, ROAM_WAIT_MS"
	print "unset (the default wait of 2,000 ms, after which a login goes on without its"
	print "answer). Each client times its own login (fork to waitpid) and looks its"
	print "address up in tcp.smtp.cdb with tinycdb right after it returns. The"
	print "repetitions: " cnt[k] " (the set-up's login is the warm-up)."
	print ""
	print "| repetition | the four logins, ms (sorted) | relay open when it returned | wall ms, the four | lost at the end |"
	print "|---:|---|---:|---:|---|"
	for (r = 1; r <= cnt[k]; r++) {
		cntr = rel = 0
		for (i = 1; i <= ne[k]; i++)
			if (erep[k, i] == r) {
				s[++cntr] = ems[k, i]
				rel += erelay[k, i]
			}
		sort(s, cntr)
		line = ""
		for (i = 1; i <= cntr; i++)
			line = line (i > 1 ? ", " : "") fmt(s[i])
		printf "| %d | %s | %d of %d | %s | %s |\n", r, line, rel, cntr, fmt(byrep[k, r]), chk[k, r]
	}
	print ""
}

function four_target(n,    k, i, mx, rel, tot, fails) {
	k = "four:" n ":roam"
	if (!ne[k]) {
		target("four new addresses at once behind clearopensmtp -f at " commas(n) ": all return within 2,000 ms", meta["foursize"] != "" ? "– (measured at " commas(meta["foursize"]) " only, without --huge)" : "–", "≤ 2,000 ms", "")
		target("the same: each login's relay open when it returned", "–", "every login", "")
		return
	}
	mx = 0
	rel = tot = fails = 0
	for (i = 1; i <= ne[k]; i++) {
		tot++
		if (ems[k, i] > mx)
			mx = ems[k, i]
		rel += erelay[k, i]
		fails += est[k, i] != 0
	}
	target("four new addresses at once behind clearopensmtp -f at " commas(n) ": all return within 2,000 ms (ROAM_WAIT_MS unset)", tot " logins in " cnt[k] " repetitions, the slowest " fmt(mx) " ms, " fails " failed", "≤ 2,000 ms", mx <= 2000 && fails == 0)
	target("the same: each login's relay open when it returned (looked up right after)", rel " of " tot, "every login", rel == tot)
}

# A/B rows of peak memory: the recorder (wait4 in the driver, or rssprobe).
function ab_mem(file, cur, var, what,    n, a, b) {
	n = meta["memsize"]
	if (n == "" || meta["rss:" var ":children"] == "" && orss["mem:" n ":" var] == "")
		return
	a = max2(orss["mem:" n ":" cur], meta["rss:" cur ":children"])
	b = max2(orss["mem:" n ":" var], meta["rss:" var ":children"])
	printf "| %s | %s | %s | %s | KiB | %s | %s | %s |\n", file, abname["old"], what, commas(n), commas(a), commas(b), ratio(b, a)
}
function ab_memrss(file, cur, var, what,    n, a, b) {
	n = meta["memsize"]
	if (n == "" || rss["mem:" n ":" var] == "")
		return
	a = rss["mem:" n ":" cur]
	b = rss["mem:" n ":" var]
	printf "| %s | %s | %s | %s | KiB | %s | %s | %s |\n", file, abname["old"], what, commas(n), commas(a), commas(b), ratio(b, a)
}

# SPDX-License-Identifier: ISC
# /etc/cron.d/checkpw-roam: every 10 minutes, close the POP-before-SMTP
# relays older than 180 minutes (clearopensmtp(8); -m N for another age),
# on machines without systemd: where systemd runs (/run/systemd/system),
# clearopensmtp.timer does it and this job does nothing, so expiry never
# runs twice. Nothing is done, silently, until the relay directory is set
# up: until /var/lib/checkpw-roam/open-smtp exists (the first login, or
# "clearopensmtp -f", makes it); nor once the package is removed.
# clearopensmtp prints nothing on success; cron mails what it prints.
*/10 * * * *	root	if [ ! -d /run/systemd/system ] && [ -x /usr/sbin/clearopensmtp ] && [ -f /var/lib/checkpw-roam/open-smtp ]; then /usr/sbin/clearopensmtp; fi

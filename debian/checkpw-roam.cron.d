# /etc/cron.d/checkpw-roam: every 10 minutes, close the POP-before-SMTP
# relays older than 180 minutes (clearopensmtp(8); -m N for another age).
# Nothing is done, silently, until the relay directory is set up: until
# /var/lib/checkpw-roam/open-smtp exists (the first login, or
# "clearopensmtp -f", makes it); nor once the package is removed.
# clearopensmtp prints nothing on success; cron mails what it prints.
*/10 * * * *	root	if [ -x /usr/sbin/clearopensmtp ] && [ -f /var/lib/checkpw-roam/open-smtp ]; then /usr/sbin/clearopensmtp; fi

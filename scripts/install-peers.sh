#!/usr/bin/env bash
# Installs the Debian packages the integration suites talk to, when they are missing.
# Runs as root (CI); otherwise it only says what is missing and the suites skip.
set -euo pipefail
# chromium drives the portal suite (test/integration/05-portal) through playwright-core.
# swaks needs the Perl TLS modules for -tls (Debian only recommends them).
# gnupg, gpgsm, sq and sqop are the OpenPGP and S/MIME peers of test/integration (issue 11);
# postgresql-client gives pg_dump/pg_restore to `sealgate backup` on PostgreSQL.
# opendkim-tools and python3-dkim check DKIM signatures both ways (issue 12); opendkim (the
# milter daemon) signs and verifies for the Postfix side of bench/relay's relay_dkim phase.
want=(postfix swaks libnet-ssleay-perl libio-socket-ssl-perl dnsmasq-base unbound ldnsutils openssl gnupg gpgsm sq sqop postgresql-client opendkim opendkim-tools python3-dkim chromium)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-peers: missing ${missing[*]} (run as root to install); their suites will skip" >&2
  exit 0
fi
echo "install-peers: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# No system Postfix instance: the suites start their own on loopback.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Prepare deploy/compose before the first `up`: generate the secrets that do not exist yet
# (never replacing one: the secret key opens the stored secrets, the database password is in
# the database) and check what only you can provide (.env, the bot's token, certificates).
#
# Secrets are files readable only by meetbridge's user in the containers (uid 10001).
set -euo pipefail
cd "$(dirname "$0")"
OWNER=10001

[ -f .env ] || { echo "init.sh: copy env.example to .env and fill it in first" >&2; exit 1; }
install -d -m 0700 secrets tls

secret() {  # secret FILE COMMAND...: create FILE from COMMAND's output unless it exists
    local file="secrets/$1"; shift
    if [ ! -s "$file" ]; then
        (umask 077 && "$@" >"$file")
        echo "init.sh: generated $file"
    fi
    chown "$OWNER:$OWNER" "$file" 2>/dev/null || true
    chmod 0400 "$file"
}
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; echo; }  # $1 bytes

secret secret.key sh -c 'head -c 32 /dev/urandom | base64'
secret postgres_password random_hex 24
secret livekit_api_secret random_hex 32
secret metrics_token random_hex 24

problems=0
if [ ! -s secrets/mattermost_token ]; then
    echo "init.sh: put the bot's token in secrets/mattermost_token (README: Connecting Mattermost)" >&2
    problems=1
else
    chown "$OWNER:$OWNER" secrets/mattermost_token 2>/dev/null || true
    chmod 0400 secrets/mattermost_token
fi
if ! compgen -G "tls/*.pem" >/dev/null; then
    echo "init.sh: put the certificate(s) for the three names in tls/ (chain, then key, in one .pem)" >&2
    problems=1
fi
echo "init.sh: keep a copy of secrets/secret.key apart from your backups of the data (README: Backup)"
exit "$problems"

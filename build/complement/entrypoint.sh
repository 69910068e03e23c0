#!/bin/sh
# Starts Myelin in a Complement container: a fresh certificate for
# $SERVER_NAME signed by the CA Complement mounts at /complement/ca, that CA
# trusted for outgoing federation, state kept under /data across restarts.
# MYELIN_CA_DIR names another directory holding ca.crt and ca.key (the
# two-server test scripts/federation-docker.sh copies its own CA to /ca).
# Every registration file Complement writes under /complement/appservice/
# registers an application service (MYELIN_APPSERVICE, a comma-separated
# list: Complement names the files after the service IDs, without commas).
set -e
: "${SERVER_NAME:?SERVER_NAME must be set}"
ca="${MYELIN_CA_DIR:-/complement/ca}"
mkdir -p /data
/myelin issue-cert --ca-cert "$ca/ca.crt" --ca-key "$ca/ca.key" \
	--name "$SERVER_NAME" --cert-out /data/tls.crt --key-out /data/tls.key
for f in /complement/appservice/*.yaml; do
	if [ -f "$f" ]; then
		MYELIN_APPSERVICE="${MYELIN_APPSERVICE:+$MYELIN_APPSERVICE,}$f"
	fi
done
export MYELIN_APPSERVICE
exec /myelin --config /myelin.yaml --server-name "$SERVER_NAME" --data-dir /data \
	--client-addr 0.0.0.0:8008 --federation-addr 0.0.0.0:8448 \
	--tls-cert /data/tls.crt --tls-key /data/tls.key --tls-ca "$ca/ca.crt"

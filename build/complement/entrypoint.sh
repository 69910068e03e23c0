#!/bin/sh
# Starts Myelin in a Complement container: a fresh certificate for
# $SERVER_NAME signed by the CA Complement mounts at /complement/ca, that CA
# trusted for outgoing federation, state kept under /data across restarts.
# MYELIN_CA_DIR names another directory holding ca.crt and ca.key (the
# two-server test scripts/federation-docker.sh copies its own CA to /ca).
set -e
: "${SERVER_NAME:?SERVER_NAME must be set}"
ca="${MYELIN_CA_DIR:-/complement/ca}"
mkdir -p /data
/myelin issue-cert --ca-cert "$ca/ca.crt" --ca-key "$ca/ca.key" \
	--name "$SERVER_NAME" --cert-out /data/tls.crt --key-out /data/tls.key
exec /myelin --config /myelin.yaml --server-name "$SERVER_NAME" --data-dir /data \
	--client-addr 0.0.0.0:8008 --federation-addr 0.0.0.0:8448 \
	--tls-cert /data/tls.crt --tls-key /data/tls.key --tls-ca "$ca/ca.crt"

#!/usr/bin/env bash
# Installs (when missing) and starts the services the test suite needs:
# PostgreSQL, Redis and RabbitMQ from Debian's packages, and installs the
# programs the media tests run (ffmpeg; pocketsphinx with its US English model,
# the default transcription engine; espeak-ng, which speaks the test
# sentences; coturn, whose TURN server and client the TURN test runs;
# chromium and fonts-noto-cjk, which screenshot the room export's transcript).
# Idempotent: running it twice leaves one of each running. Prints
# the environment variables the tests read, as `export` lines, on stdout;
# progress goes to stderr.
set -euo pipefail
log() { echo "services: $*" >&2; }

need=()
command -v pg_ctlcluster >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v rabbitmq-server >/dev/null 2>&1 || need+=(rabbitmq-server)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v pocketsphinx_continuous >/dev/null 2>&1 || need+=(pocketsphinx)
[ -f /usr/share/pocketsphinx/model/en-us/en-us.lm.bin ] || need+=(pocketsphinx-en-us)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
# coturn: the TURN test checks Myelin's credentials against the real server
# (it starts its own on a loopback port; the system service is not used).
command -v turnserver >/dev/null 2>&1 && command -v turnutils_uclient >/dev/null 2>&1 || need+=(coturn)
# Chromium opens the room export's HTML transcript for a screenshot; the
# Noto CJK fonts render its Chinese.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || need+=(fonts-noto-cjk)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${need[@]}" >&2
fi

# PostgreSQL: the first cluster Debian created.
pgver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$pgver main"; then
	log "creating PostgreSQL $pgver cluster"
	pg_createcluster "$pgver" main >&2
fi
# The tests run packages and end-to-end tests side by side, each server
# with its own pools: Debian's 100 connections are too few.
pgconf=/etc/postgresql/$pgver/main/postgresql.conf
if ! grep -q '^max_connections = 300' "$pgconf"; then
	echo 'max_connections = 300' >>"$pgconf"
	pg_lsclusters -h | grep -q "^$pgver main .* online" && pg_ctlcluster --skip-systemctl-redirect "$pgver" main restart >&2
fi
if ! pg_lsclusters -h | grep -q "^$pgver main .* online"; then
	log "starting PostgreSQL $pgver"
	pg_ctlcluster --skip-systemctl-redirect "$pgver" main start >&2
fi
for _ in $(seq 1 30); do
	su postgres -c "psql -qtAc 'select 1'" >/dev/null 2>&1 && break
	sleep 1
done
if ! su postgres -c "psql -qtAc \"select 1 from pg_roles where rolname='myelin'\"" | grep -q 1; then
	su postgres -c "psql -qc \"create role myelin login createdb password 'myelin'\"" >&2
fi
if ! su postgres -c "psql -qtAc \"select 1 from pg_database where datname='myelin_test'\"" | grep -q 1; then
	su postgres -c "createdb -O myelin myelin_test" >&2
fi
pgport=$(pg_lsclusters -h | awk -v v="$pgver" '$1==v && $2=="main" {print $3}')

# Redis.
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
	log "starting Redis"
	redis-server --daemonize yes --bind 127.0.0.1 --save "" --appendonly no >&2
	for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi

# RabbitMQ.
if ! rabbitmqctl -q status >/dev/null 2>&1; then
	log "starting RabbitMQ"
	rabbitmq-server -detached >&2 || true
	for _ in $(seq 1 90); do
		rabbitmqctl -q status >/dev/null 2>&1 && break
		sleep 1
	done
	rabbitmqctl -q --timeout 120 await_startup >&2
fi

echo "export MYELIN_TEST_POSTGRES_URL='postgres://myelin:myelin@127.0.0.1:${pgport}/myelin_test?sslmode=disable'"
echo "export MYELIN_TEST_REDIS_URL='redis://127.0.0.1:6379/0'"
echo "export MYELIN_TEST_AMQP_URL='amqp://guest:guest@127.0.0.1:5672/'"
# coturn is installed above: its test must run, not skip.
echo "export MYELIN_TEST_COTURN=required"
# Chromium is installed above: the export test's screenshot must be taken.
echo "export MYELIN_TEST_CHROMIUM=required"

#!/bin/bash
# Two Myelin servers on a private Docker network, a chat between them across
# a network cut:
#
#   scripts/federation-docker.sh [--messages N] [--hold DURATION] [--wake] [--timeout DURATION]
#
# (options go to the driver, test/docker/fedchat: --hold keeps two cut off
# that much longer, so one's retry backoff grows; --wake has bob speak first
# after the reconnection, which must wake one's queue at once)
#
# 1. builds an image from a minimal root filesystem (build/complement/build.sh:
#    static binary, busybox, CA certificates; `docker import`, no registry)
#    under a tag of its own;
# 2. makes a throwaway CA and a private network, both unique to this run;
# 3. starts two containers whose host names, `one` and `two`, are their
#    Matrix server names (Docker's embedded DNS resolves them on the network;
#    federation on 8448 by the normal discovery, the CA trusted), client API
#    and metrics published on random 127.0.0.1 ports;
# 4. runs test/docker/fedchat: alice@one and bob@two chat, two is cut off
#    with `docker network disconnect`, alice sends N messages, two is
#    connected again and bob must get all N, in order, exactly once.
#
# Everything it creates (image tag, network, containers, files) carries this
# run's random suffix and is removed on exit; nothing else on the Docker
# daemon is touched. On failure it prints both servers' logs. Needs Docker,
# Go and apt-get (for busybox-static); exits non-zero on any failure.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
fedchat_args=("$@")

log() { echo "federation-docker: $*"; }
fail() { echo "federation-docker: FAIL: $*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || fail "docker is not installed"
docker info >/dev/null 2>&1 || fail "the Docker daemon is not reachable (docker info fails)"
command -v go >/dev/null 2>&1 || fail "go is not on PATH"

run="$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
prefix="myelin-fed-$run"
image="myelin-federation-test:$run"
network="$prefix"
one="$prefix-one"
two="$prefix-two"
work="$(mktemp -d)"
label="im.myelin.federation-docker=$run"
built=""
created=()
ok=""

cleanup() {
	set +e
	trap - EXIT INT TERM
	if [ -z "$ok" ] && [ ${#created[@]} -gt 0 ]; then
		for c in "${created[@]}"; do
			echo "----- logs of $c (last 300 lines) -----" >&2
			docker logs --tail 300 "$c" >&2 2>&1
		done
		echo "----- end of logs -----" >&2
	fi
	# By this run's label too: a container whose `docker create` was
	# interrupted is not in the list.
	for c in "${created[@]}" $(docker ps -aq --filter "label=$label"); do
		docker rm -f "$c" >/dev/null 2>&1
	done
	for n in $(docker network ls -q --filter "label=$label"); do
		docker network rm "$n" >/dev/null 2>&1
	done
	[ -n "$built" ] && docker rmi "$image" >/dev/null 2>&1
	rm -rf "$work"
	log "cleaned up run $run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$SECONDS
log "run $run: building $image"
built=1
bash "$here/build/complement/build.sh" "$image" >/dev/null
(cd "$here" && go build -o "$work/fedchat" ./test/docker/fedchat)
"$work/fedchat" ca "$work/ca"
log "image and driver built in $((SECONDS - start))s"

docker network create --label "$label" "$network" >/dev/null

for name in one two; do
	c="$prefix-$name"
	# The image's entrypoint (build/complement/entrypoint.sh) signs a
	# certificate for $SERVER_NAME with the CA in $MYELIN_CA_DIR and trusts
	# that CA for outgoing federation; its profile allows private networks
	# and opens registration.
	docker create --name "$c" --hostname "$name" --network "$network" --network-alias "$name" \
		--label "$label" \
		-e SERVER_NAME="$name" -e MYELIN_CA_DIR=/ca -e MYELIN_METRICS_ADDR=0.0.0.0:9090 \
		-p 127.0.0.1::8008 -p 127.0.0.1::9090 \
		"$image" >/dev/null
	created+=("$c")
	docker cp "$work/ca" "$c:/ca"
	docker start "$c" >/dev/null
done
log "started $one and $two on network $network"

"$work/fedchat" run --network "$network" --one "$one" --two "$two" ${fedchat_args[@]+"${fedchat_args[@]}"} ||
	fail "the scenario failed (servers' logs follow)"
ok=1
log "PASS in $((SECONDS - start))s"

#!/usr/bin/env bash
# End-to-end tests of the chat demo, on the tokio adapter (examples/chat)
# and on the axum adapter (examples/axum, the same page and protocol): a
# Python `websockets` client (interop) and headless Debian Chromium driven
# by playwright-core (the browser test), against each.
# Installs what is missing (chromium from apt, playwright-core from npm,
# websockets from PyPI); never downloads a browser. Screenshots land in
# target/e2e/.
#
#     tests/e2e/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
python3 -c 'import websockets' 2>/dev/null || pip install -q websockets
[ -d tests/e2e/node_modules/playwright-core ] ||
    (cd tests/e2e && npm install --no-package-lock --no-audit --no-fund --silent)

cargo build --example chat --example axum
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() {
    local example=$1 port=$2; shift 2
    "./target/debug/examples/$example" "127.0.0.1:$port" "$@" >"target/e2e-$example-$port.log" 2>&1 &
    pids+=($!)
    # Any HTTP answer means it is up.
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && return
        sleep 0.1
    done
    echo "the $example example did not start on port $port" >&2
    exit 1
}

for example in chat axum; do
    port=$(free_port)
    start "$example" "$port" --metrics "127.0.0.1:$(free_port)"
    python3 tests/e2e/interop.py "$port"
    node tests/e2e/browser.mjs "$port" "target/e2e/$example"

    # The audit trail reached the log: connections opened and closed.
    grep -q 'event="connection_opened"' "target/e2e-$example-$port.log"
    grep -q 'event="connection_closed".*by="peer"' "target/e2e-$example-$port.log"
    # Prometheus text on the metrics port.
    metrics_url=$(grep -o 'http://[0-9.:]*/metrics' "target/e2e-$example-$port.log")
    curl -sf "$metrics_url" | grep -q 'wsguard_messages_total{direction="inbound",layer="rate_limit",outcome="dropped"}'

    http_port=$(free_port)
    start "$example" "$http_port" --http-rejections --log-json --metrics "127.0.0.1:$(free_port)" --config examples/chat/chat.toml
    python3 tests/e2e/interop.py "$http_port" http
    # As JSON lines with --log-json: one per refused handshake.
    grep -q '"event":"handshake_rejected"' "target/e2e-$example-$http_port.log"
done
# The demo as a fleet: two instances sharing a redis-server.
command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fleet_a=$(free_port)
fleet_b=$(free_port)
start chat "$fleet_a" --redis "redis://127.0.0.1:$redis_port/" --metrics "127.0.0.1:$(free_port)"
start chat "$fleet_b" --redis "redis://127.0.0.1:$redis_port/" --metrics "127.0.0.1:$(free_port)"
python3 tests/e2e/fleet.py "$fleet_a" "$fleet_b"
echo "e2e: all passed (screenshots in target/e2e/)"

#!/usr/bin/env bash
# The chat demo under load and abuse (examples/chat_abuse.rs): raises the
# open-file limit for the server and the clients, builds both in release
# mode and runs the tool. Arguments go to the tool:
#
#     examples/chat_abuse.sh [IDLE [USERS [SECONDS_PER_WINDOW]]]
set -euo pipefail
cd "$(dirname "$0")/.."
# 10,000 idle connections plus 1,220 abusive and 100 users, on both sides.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 12000 ]; then
    echo "the open-file limit is $(ulimit -n); 12,000 or more is needed (raise the hard limit)" >&2
    exit 2
fi
cargo build --release --example chat --example chat_abuse
exec target/release/examples/chat_abuse "$@"

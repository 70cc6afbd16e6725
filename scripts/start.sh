#!/usr/bin/env bash
# The README's start command: install, build, then run `kiln server` on the embedded store and,
# when running as root, `kiln agent` profiling this host. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

port="${KILN_PORT:-4040}"
node bin/kiln.js server --port "$port" --data-dir "${KILN_DATA_DIR:-./data}" &
server=$!
trap 'kill $server ${agent:-} 2>/dev/null; wait' INT TERM EXIT

ready=
for _ in $(seq 1 100); do
  node -e "fetch('http://127.0.0.1:$port/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" && { ready=1; break; }
  kill -0 $server 2>/dev/null || { echo "kiln server exited during start-up (see above)"; exit 1; }
  sleep 0.2
done

if [ "$(id -u)" -eq 0 ]; then
  # No V8 flags for the agent: a smaller young generation (--max-semi-space-size=1) did not lower its
  # RSS (its heap is ~15 MiB; see docs/BENCHMARKS.md, Agent), and --max-old-space-size would only turn heap growth into a crash.
  node bin/kiln.js agent --server "http://127.0.0.1:$port" &
  agent=$!
else
  echo "not root: the eBPF agent needs root (or CAP_BPF+CAP_PERFMON+CAP_SYS_PTRACE); starting the server only."
  echo "run 'sudo npx kiln agent --server http://127.0.0.1:$port' to profile this host."
fi
echo
# After the wait a large store may still be opening: say so rather than claim the server is up.
if [ -n "$ready" ]; then
  echo "Kiln is up: open http://localhost:$port  (Ctrl-C stops it)"
else
  echo "kiln server is still starting (not answering /ready after 20 s): open http://localhost:$port once it does  (Ctrl-C stops it)"
fi
wait $server

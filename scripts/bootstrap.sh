# Sourced by scripts/demo, scripts/test and .ci/run: makes sure this machine has what the repository
# needs (Node >= 22.19 and pnpm 10, installed from the npm registry when missing, as on a fresh machine
# with only an older Node and npm), then installs the workspace from the lockfile. Node and pnpm go
# to AGENT_TRACE_PREFIX (default /usr/local, whose bin/ comes first on PATH on CI machines, or
# ~/.local when /usr/local is not writable).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '\n== %s\n' "$*"; }

# The Node floor, measured (README "Requirements"): 22.0-22.14 cannot load undici 8 (no zstd in
# node:zlib), 22.15-22.17 cannot run the .ts examples, and undici 8 itself declares >=22.19.
NODE_FLOOR=22.19
# Exit 0 when the `node` on PATH is at least NODE_FLOOR, comparing major then minor as numbers.
node_ok() {
  node -e '
    const [maj, min] = process.versions.node.split(".").map(Number);
    const [fmaj, fmin] = process.argv[1].split(".").map(Number);
    process.exit(maj > fmaj || (maj === fmaj && min >= fmin) ? 0 : 1);
  ' "$NODE_FLOOR" 2>/dev/null
}

# Default /usr/local, or ~/.local when this user cannot write there (a laptop without sudo): npm
# would otherwise fail deep in the install with EACCES.
if [ -n "${AGENT_TRACE_PREFIX:-}" ]; then
  PREFIX="$AGENT_TRACE_PREFIX"
elif [ -w /usr/local ] && { [ ! -e /usr/local/bin ] || [ -w /usr/local/bin ]; }; then
  PREFIX=/usr/local
else
  PREFIX="$HOME/.local"
fi
ORIGINAL_PATH="$PATH"
# A Node and pnpm installed by an earlier run are used again, not reinstalled.
export PATH="$PREFIX/bin:$PATH"
hash -r
if ! node_ok; then
  log "node $(node --version 2>/dev/null || echo none) is older than $NODE_FLOOR: installing Node 24 from the npm registry"
  npm install -g --prefix "$PREFIX" node@24 >/dev/null
  hash -r
fi
if ! node_ok; then
  echo "Node >= $NODE_FLOOR is required, still have $(node --version)" >&2
  exit 1
fi

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version | cut -d. -f1)" != "10" ]; then
  log "installing pnpm 10"
  npm install -g --prefix "$PREFIX" pnpm@10 >/dev/null
  hash -r
fi
log "node $(node --version), pnpm $(pnpm --version)"
case ":$ORIGINAL_PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) if [ "$(command -v node)" = "$PREFIX/bin/node" ] || [ "$(command -v pnpm)" = "$PREFIX/bin/pnpm" ]; then
       echo "note: node and pnpm are in $PREFIX/bin, which is not on your PATH; for commands outside these scripts: export PATH=\"$PREFIX/bin:\$PATH\""
     fi ;;
esac

# Nothing here builds a native addon; the machine's nodedir (older Node headers) must not leak in.
export npm_config_nodedir=

log "install"
pnpm install --frozen-lockfile

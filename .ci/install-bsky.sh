#!/bin/sh
# Make the Bluesky test network available for tests/channels/test_bluesky_network.py.
#
# Installs the reference AT Protocol software (@atproto/dev-env: PLC, PDS 0.4, AppView) at
# the versions pinned in tests/bsky/package-lock.json into tests/bsky/node_modules with
# `npm ci`, with npm's download cache in .cache/npm (both ignored by git). Idempotent: a
# no-op when node_modules already holds exactly the locked versions. Needs node 20 and npm
# (PDS 0.4 runs on node 20; 0.5 needs node 22). The tests start and stop the network.
set -eu

cd "$(dirname "$0")/.."
dir=tests/bsky

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "install-bsky: node and npm are needed (node 20: apt-get install nodejs npm)" >&2
    exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
    echo "install-bsky: node $(node --version) is too old; @atproto/pds 0.4 needs node 18.7+" >&2
    exit 1
fi

# A stamp of the lock that was installed: the same lock means the same install.
stamp=$dir/node_modules/.carecast-package-lock.json
if cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
    echo "install-bsky: tests/bsky/node_modules matches package-lock.json"
    exit 0
fi

echo "install-bsky: npm ci in $dir (node $(node --version))"
npm ci --prefix "$dir" --cache "$PWD/.cache/npm" --no-audit --no-fund --loglevel=error
cp "$dir/package-lock.json" "$stamp"
echo "install-bsky: installed"

#!/bin/sh
# fetch.sh -- the console page's terminal, xterm.js, pinned: npm's
# @xterm/xterm at $VERSION (npm checks the registry's integrity), its ES
# module and stylesheet copied here, then checked against SHA256SUMS.
# The build embeds the copies kept in git and needs no network; run this
# by hand to check them or, with a new VERSION and SHA256SUMS, to take
# another version.
set -eu
VERSION=6.0.0
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@xterm/xterm@$VERSION" > /dev/null && tar xzf ./*.tgz)
cp "$tmp/package/lib/xterm.mjs" "$tmp/package/css/xterm.css" "$here/"
cp "$tmp/package/LICENSE" "$here/LICENSE.xterm"
cd "$here" && sha256sum -c SHA256SUMS

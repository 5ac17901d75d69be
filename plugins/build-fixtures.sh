#!/usr/bin/env bash
# Builds the example plugins and the misbehaving test plugins for
# wasm32-wasip2 from their sources, into plugins/fixtures/ (committed) or the
# folder given as the first argument. The tests load the fixtures from
# $PORTICO_PLUGIN_FIXTURES when set, else from plugins/fixtures/; .ci/run
# builds a fresh set and runs the tests on it too, so the committed files
# cannot drift from their sources unnoticed.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-plugins/fixtures}"
target=wasm32-wasip2
built="target/$target/plugin"

rustup target add "$target" >/dev/null 2>&1 || true
cargo build --locked --profile plugin --target "$target" \
    -p branded-email -p date-of-birth-check -p email-domain-rules
cargo build --locked --profile plugin --target "$target" \
    -p portico-plugin-fixtures --examples

mkdir -p "$out"
for example in branded-email date-of-birth-check email-domain-rules; do
    cp "$built/${example//-/_}.wasm" "$out/$example.wasm"
done
for misbehaving in minimal spin hog flood snoop crash counter portal_link family_mail nosy clock_mail; do
    cp "$built/examples/$misbehaving.wasm" "$out/$misbehaving.wasm"
done
ls -l "$out"

#!/usr/bin/env bash
# Uploads (docs/api.md "Files and images"): throughput of N uploads of SIZE MiB of text over
# loopback, one after another (the body streamed to disk, typed by libmagic, moved into
# files.dir), and the time per image of M photos of WxH (decoded, re-encoded without metadata,
# thumbnailed by libvips), from parley_files_image_seconds_total. Starts its own node on
# 127.0.0.1 with a fresh data directory, and stops it.
#
#   bench/files.sh [build/parley]       # N=20 SIZE=10 M=10 W=3000 H=2000 by default
set -euo pipefail
BIN=${1:-build/parley}
N=${N:-20}
SIZE=${SIZE:-10}
M=${M:-10}
W=${W:-3000}
H=${H:-2000}
PORT=${PORT:-18471}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$BIN" serve --listen "127.0.0.1:$PORT" --data "$dir/data" --set auth.hash_opslimit=1 --set auth.hash_memlimit=8192 \
  --set files.upload_burst=1000 --set files.upload_rate=1000 --set files.max_bytes_per_account=100000000000 \
  >"$dir/server.log" 2>&1 &
pid=$!
url=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -fs "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs -c "$dir/c" -H 'Content-Type: application/json' -d '{"name":"bench","password":"correct horse"}' \
  "$url/api/register" >/dev/null
# SIZE MiB of text (libmagic: text/plain).
{ yes "the quick brown fox jumps over the lazy dog again and again" || true; } | head -c $((SIZE * 1024 * 1024)) >"$dir/big.txt"
start=$(date +%s.%N)
for i in $(seq "$N"); do
  curl -fs -b "$dir/c" --data-binary @"$dir/big.txt" "$url/api/rooms/general/files?name=big$i.txt" >/dev/null
done
end=$(date +%s.%N)
awk -v n="$N" -v s="$SIZE" -v a="$start" -v b="$end" \
  'BEGIN { t = b - a; printf "uploads: %d x %d MiB in %.2f s: %.0f MiB/s, %.0f ms each\n", n, s, t, n * s / t, 1000 * t / n }'
# M photos: noise, so that the JPEG is as large as a camera's.
vips gaussnoise "$dir/noise.v" "$W" "$H" --sigma 40 --mean 128 >/dev/null
vips colourspace "$dir/noise.v" "$dir/photo.jpg[Q=90]" srgb 2>/dev/null || vips copy "$dir/noise.v" "$dir/photo.jpg[Q=90]"
bytes=$(stat -c %s "$dir/photo.jpg")
before=$(curl -fs "$url/metrics" | awk '$1 == "parley_files_image_seconds_total" { print $2 }')
start=$(date +%s.%N)
for i in $(seq "$M"); do
  curl -fs -b "$dir/c" --data-binary @"$dir/photo.jpg" "$url/api/rooms/general/files?name=photo$i.jpg" >/dev/null
done
end=$(date +%s.%N)
after=$(curl -fs "$url/metrics" | awk '$1 == "parley_files_image_seconds_total" { print $2 }')
awk -v m="$M" -v w="$W" -v h="$H" -v kb="$((bytes / 1024))" -v a="$start" -v b="$end" -v x="$before" -v y="$after" \
  'BEGIN { printf "images: %d JPEGs of %dx%d (%d KiB): %.0f ms of image work each, %.0f ms per upload in all\n", m, w, h, kb, 1000 * (y - x) / m, 1000 * (b - a) / m }'

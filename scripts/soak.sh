#!/usr/bin/env bash
# Soak run (a benchmark, not a unit test): the pipeline on a looping RTSP stream for a long time, with the camera's
# publisher restarted every few minutes and explanations every 5th frame. Reports frames processed, reconnections,
# dropped frames, memory at the start and the end, and whether the MP4 holds every frame the JSON lines describe.
#
#   scripts/soak.sh [minutes=30] [restart-every-minutes=5] [output-folder=runs/soak]
#
# Needs ffmpeg, ffprobe, rtsp-server-perl and python3 (Debian: apt-get install ffmpeg rtsp-server-perl python3).
# Everything listens on loopback only; the script stops only the processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-30}
restart_every=${2:-5}
out=${3:-runs/soak}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for tool in ffmpeg ffprobe rtsp-server-perl python3; do
  command -v "$tool" >/dev/null || { echo "soak: $tool is not installed" >&2; exit 1; }
done

base=$((21000 + RANDOM % 2000 * 2))
client_port=$base
source_port=$((base + 1))
url="rtsp://127.0.0.1:$client_port/live"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

rtsp-server-perl -c "$client_port" -s "$source_port" --client_listen_address 127.0.0.1 --source_listen_address 127.0.0.1 \
  --rtp_start_port $((31000 + RANDOM % 1000 * 4)) > "$out/rtsp-server.log" 2>&1 &
pids+=($!)
sleep 2
publisher=""
start_publisher() {
  ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i samples/shapes-demo.mp4 -c copy -f rtsp "rtsp://127.0.0.1:$source_port/live" \
    >> "$out/publisher.log" 2>&1 &
  publisher=$!
  pids+=("$publisher")
}
start_publisher
sleep 3

dotnet build src/StreamAnalyzer -c Release -nologo -v quiet > /dev/null
bin=src/StreamAnalyzer/bin/Release/net10.0/stream-analyzer.dll
echo "soak: $minutes min on $url, publisher restarted every $restart_every min; outputs in $out"
dotnet "$bin" run --weights models/yolov7-tiny-shapes.pt --source "$url" --img-size 320 --cam-every 5 --stall-timeout 5 \
  --duration $((minutes * 60)) --save "$out/soak.mp4" --save-json "$out/soak.jsonl" > "$out/run.log" 2>&1 &
run=$!
pids+=("$run")

echo "seconds,rss_mb" > "$out/memory.csv"
start=$(date +%s)
next_restart=$((start + restart_every * 60))
while kill -0 "$run" 2>/dev/null; do
  now=$(date +%s)
  rss=$(ps -o rss= -p "$run" 2>/dev/null | tr -d ' ' || true)
  [ -n "$rss" ] && echo "$((now - start)),$((rss / 1024))" >> "$out/memory.csv"
  if [ "$now" -ge "$next_restart" ] && [ $((now - start)) -lt $((minutes * 60 - 30)) ]; then
    echo "soak: restarting the publisher at $((now - start)) s"
    kill "$publisher" 2>/dev/null || true
    sleep 8
    start_publisher
    next_restart=$((next_restart + restart_every * 60))
  fi
  sleep 10
done
set +e
wait "$run"
status=$?
set -e

python3 - "$out" "$status" <<'EOF'
import csv, json, subprocess, sys
out, status = sys.argv[1], int(sys.argv[2])
records = [json.loads(l) for l in open(f"{out}/soak.jsonl")]
log = open(f"{out}/run.log").read()
memory = [(int(r["seconds"]), int(r["rss_mb"])) for r in csv.DictReader(open(f"{out}/memory.csv"))]
probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                        "stream=nb_read_frames,avg_frame_rate:format=duration", "-of", "json", f"{out}/soak.mp4"],
                       capture_output=True, text=True)
info = json.loads(probe.stdout)
stream = info["streams"][0]
mp4_frames = int(stream["nb_read_frames"])
num, den = (int(x) for x in stream["avg_frame_rate"].split("/"))
fps = num / den
# The MP4 is a constant-rate timeline: a frame at timestamp t sits in slot round((t - t0) * fps), gaps are held.
t0 = records[0]["timestamp_ms"]
slots = [round((r["timestamp_ms"] - t0) * fps / 1000) for r in records]
ordered = all(b > a for a, b in zip([r["timestamp_ms"] for r in records], [r["timestamp_ms"] for r in records][1:]))
shared_slot = len(slots) - len(set(slots))
after_warmup = [m for s, m in memory if s >= 60] or [m for _, m in memory]
print(f"exit code            {status}")
print(f"frames processed     {len(records)} ({records[-1]['frame'] + 1} captured, explained {sum(r['explained'] for r in records)})")
print(f"reconnections        {log.count(': reconnected')}; stream losses {log.count('stream lost')}")
summary = [l for l in log.splitlines() if "dropped frames" in l]
print(f"dropped frames       {summary[-1].split()[-1] if summary else 0}")
print(f"memory (RSS)         {after_warmup[0]} MB at {next(s for s, m in memory if m == after_warmup[0])} s, {after_warmup[-1]} MB at the end, peak {max(m for _, m in memory)} MB")
print(f"JSON lines ordered   {ordered}")
print(f"MP4                  {mp4_frames} frames at {fps:g} fps = {mp4_frames / fps:.1f} s; JSON timestamps span {(records[-1]['timestamp_ms'] - t0) / 1000:.1f} s")
print(f"frames in the MP4    {len(records) - shared_slot} of {len(records)} JSON lines have their own slot; the timeline needs {max(slots) + 1} frames, the MP4 has {mp4_frames}")
EOF

#!/usr/bin/env bash
# Installs the system libraries StreamAnalyzer needs and builds it (Release).
#  - libgtk-3-0: OpenCvSharp's Linux runtime links against GTK 3 (also gives the live window).
#  - ffmpeg: RTSP/HTTP input and browser-playable H.264 MP4 output.
# TorchSharp's own fix for older libstdc++ is applied by the build itself (build/PatchGlibcxxRequirement.cs).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libgtk-3-0 ffmpeg)
missing=()
if command -v dpkg >/dev/null 2>&1; then
  for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

dotnet build StreamAnalyzer.sln -c Release -nologo -v quiet

#!/usr/bin/env bash
# Generate examples/example.flac: synthetic speech (espeak-ng) over a two-tone pad (sox),
# a small "song" with a clearly synthetic voice, made on the spot so nothing is bundled.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p examples
out=examples/example.flac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
espeak-ng -v en-us -s 140 -w "$tmp/voice.wav" \
  "This is a SoundScape example. The voice you hear was made by a speech synthesizer, \
   and the music underneath is two sine tones. SoundScape should find this voice synthetic."
sox "$tmp/voice.wav" -r 44100 -c 2 "$tmp/voice44.wav" pad 1.5 1.5
length=$(soxi -D "$tmp/voice44.wav")
sox -n -r 44100 -c 2 "$tmp/pad.wav" synth "$length" sine 110 sine 165 vol 0.12 fade 0.5 "$length" 0.5
sox -m "$tmp/pad.wav" "$tmp/voice44.wav" "$out"
echo "wrote $out ($(soxi -d "$out"))"

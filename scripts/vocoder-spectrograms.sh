#!/usr/bin/env bash
# The README's vocoder picture: one window of a song through every vocoder (`refrain roundtrip
# --vocoder all`), 3 s of each as a sox spectrogram, side by side with the original.
#
#   scripts/vocoder-spectrograms.sh [SONG] [OUT.png]
#
# Needs sox and ImageMagick's convert; SONG defaults to lincity-ng-data's first song (not in
# the corpus: `cargo xtask bench vocoder` installs the package).
set -euo pipefail
cd "$(dirname "$0")/.."
SONG=${1:-"/usr/share/games/lincity-ng/music/default/01 - pronobozo - lincity.ogg"}
OUT=${2:-docs/vocoders-lincity.png}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cargo run -q --release -p refrain-cli --bin refrain -- roundtrip "$SONG" --vocoder all --out "$TMP"
panels=()
for name in original griffin-lim pghi neural; do
    wav="$TMP/roundtrip-$name.wav"
    [ "$name" = original ] && wav="$TMP/original.wav"
    [ -f "$wav" ] || { echo "no $wav (vocoder unavailable?)"; continue; }
    sox "$wav" -n trim 0 3 remix - spectrogram -x 400 -y 257 -z 90 -t "$name" -o "$TMP/$name.png"
    panels+=("$TMP/$name.png")
done
convert "${panels[@]}" +append "$OUT"
echo "wrote $OUT"

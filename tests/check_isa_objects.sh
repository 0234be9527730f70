#!/usr/bin/env bash
# Fails when an object compiled for a wide instruction set holds wide (AVX,
# AVX-512) instructions outside its own kernel namespace: such code would be
# an inline function or template copy that the linker may keep for every
# caller, and it would crash CPUs without that instruction set.
#   check_isa_objects.sh OBJECT...
set -euo pipefail
status=0
for obj in "$@"; do
  bad=$(objdump -d --no-show-raw-insn -C "$obj" |
        awk '/^[0-9a-f]+ <.*>:$/ { name = $0 }
             /%[yz]mm|%k[0-7]|vmovdqu8/ { print name }' |
        sort -u | grep -v -E '::(avx2|avx512)::' || true)
  if [[ -n "$bad" ]]; then
    echo "wide instructions outside the kernel namespace in $obj:"
    echo "$bad"
    status=1
  fi
done
[[ $status -eq 0 ]] && echo "checked $# objects: wide instructions only in the kernel namespaces"
exit $status

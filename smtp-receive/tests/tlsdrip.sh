#!/bin/bash
# tlsdrip.sh - the command deadline inside a TLS record (tlsdrip.py).
. "$(dirname "$0")/../../tests/lib.bash"
python3 "$TOP/smtp-receive/tests/tlsdrip.py" "$B"

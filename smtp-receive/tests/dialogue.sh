#!/bin/bash
# dialogue.sh - the table-driven SMTP dialogues of dialogue.txt, each over a
# real loopback connection (dialogue.py explains the table).
. "$(dirname "$0")/../../tests/lib.bash"
python3 "$TOP/smtp-receive/tests/dialogue.py" "$B" "$TOP" "$TOP/smtp-receive/tests/dialogue.txt" "${DIALOGUE_ONLY:-}"

#!/bin/bash
# run.sh -- make bench: build the cached test disk once, then every
# benchmark table. Not part of make test.
set -euo pipefail
cd "$(dirname "$0")"
bash mkdisk.sh
bash image.sh
bash agent.sh
bash pinned.sh
bash serve.sh
bash progress.sh
bash handover.sh
bash scale.sh
bash vm.sh

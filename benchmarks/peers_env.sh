#!/usr/bin/env bash
# Build the side environment in which feature-visualisation peers run beside tfprobe.
#
# Xplique 2.0.2 needs TensorFlow <= 2.20 while tfprobe's main environment takes the newest TensorFlow, so
# the peers benchmark (benchmarks/featurevis_peers.py) and the Xplique rows of featurevis_quality.py run
# in a virtualenv of their own: TensorFlow 2.20.0, Xplique 2.0.2 (without its pinned extras, which
# include an old scikit-learn build), tf-keras-vis 0.8.7, and tfprobe itself installed from this checkout.
#
#   bash benchmarks/peers_env.sh            # builds benchmarks/.peers-env (or the folder given)
#   benchmarks/.peers-env/bin/python benchmarks/featurevis_peers.py
#
# Re-running it updates the environment in place.  It needs the package index (pip), nothing else.
set -euo pipefail
repository="$(cd "$(dirname "$0")/.." && pwd)"
environment="${1:-$repository/benchmarks/.peers-env}"

python3 -m venv "$environment"
python="$environment/bin/python"
"$python" -m pip install --quiet --upgrade pip
"$python" -m pip install --quiet \
    "tensorflow==2.20.0" \
    "tensorflow-probability[tf]==0.25.0" \
    "scipy<=1.15.3" \
    "scikit-learn<=1.7.2" \
    "scikit-image<=0.25.2" \
    opencv-python-headless \
    deprecated \
    einops \
    matplotlib \
    "tf-keras-vis==0.8.7"
"$python" -m pip install --quiet --no-deps "xplique==2.0.2"
# tfprobe runs on TensorFlow 2.20 too: installed from this checkout, editable, so the side environment
# always measures the code beside it.
"$python" -m pip install --quiet -e "$repository"
"$python" - <<'EOF'
import tensorflow as tf
import xplique
import tfprobe
print(f"peers environment ready: TensorFlow {tf.__version__}, Xplique {xplique.__version__}, tfprobe {tfprobe.__version__}")
EOF
